//! Model-file bytes edited on purpose (for tests that then re-sign them with
//! `concord::model::file::resign`). Needs no libtorch.

/// Model-file bytes with the float64 value of tensor `name` (a scalar) replaced by `value`.
pub fn with_tensor_value(bytes: &[u8], name: &str, value: f64) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let start = header[name]["data_offsets"][0].as_u64().unwrap() as usize + 8 + n;
    let mut out = bytes.to_vec();
    out[start..start + 8].copy_from_slice(&value.to_le_bytes());
    out
}

/// Model-file bytes with `key` of the Concord metadata record set to `value`.
pub fn with_metadata_key(bytes: &[u8], key: &str, value: serde_json::Value) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let text = header["__metadata__"]["concord"].as_str().unwrap();
    let mut meta: serde_json::Value = serde_json::from_str(text).unwrap();
    meta[key] = value;
    header["__metadata__"]["concord"] = meta.to_string().into();
    let mut json = serde_json::to_vec(&header).unwrap();
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[8 + n..]);
    out
}
