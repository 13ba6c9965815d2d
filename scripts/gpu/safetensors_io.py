"""Reading and writing safetensors files with numpy alone (the GPU trainer's exchange with
Concord: `concord export-data` output in, parameters for `concord import-parameters` out)."""

import gzip
import json
import os
import struct

import numpy as np

DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "I64": np.int64,
    "I32": np.int32,
    "U16": np.uint16,
    "U8": np.uint8,
}
PLANES_KEY = "concord_planes"


def read_safetensors(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Tensors (numpy, little-endian) and header metadata of a (gzipped) safetensors file."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    tensors = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        tensors[name] = np.frombuffer(data[base + a : base + b], dtype=DTYPES[t["dtype"]]).reshape(
            t["shape"]
        )
    for name, spec in json.loads(meta.get(PLANES_KEY, "{}")).items():
        tensors[name] = from_planes(tensors[name], spec)
    return tensors, meta


def from_planes(planes: np.ndarray, spec: dict) -> np.ndarray:
    """An array stored as byte planes `[4, count]` by `concord export-data` (src/train/planes.rs):
    the little-endian words of `spec["dtype"]` reassembled to `spec["shape"]`, times
    `spec["scale"]` (float64) for fixed point."""
    words = np.ascontiguousarray(planes.T).view("<" + np.dtype(DTYPES[spec["dtype"]]).str[1:])
    out = words.reshape(spec["shape"])
    return out * spec["scale"] if "scale" in spec else out


def write_safetensors(path: str, tensors: dict[str, np.ndarray], meta: dict[str, str]) -> None:
    """Writes float64 tensors with string metadata atomically (temporary file, then rename)."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        arr = np.array(tensors[name], dtype="<f8", order="C")  # keeps 0-d shapes
        header[name] = {
            "dtype": "F64",
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + arr.nbytes],
        }
        chunks.append(arr.tobytes())
        offset += arr.nbytes
    header["__metadata__"] = meta
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for c in chunks:
            f.write(c)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
