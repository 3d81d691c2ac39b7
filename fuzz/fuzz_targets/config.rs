//! Config files (TOML over the defaults, as `stagegate serve --config`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = stagegate::config::Settings::from_toml(Some(text), None, Vec::new());
    }
});
