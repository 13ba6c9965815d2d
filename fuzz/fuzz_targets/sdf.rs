//! SDF/MOL V2000 text: parsing must give Ok or Error::Parse, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = concord::io::parse_sdf(text, std::path::Path::new("fuzz.sdf"));
    }
});
