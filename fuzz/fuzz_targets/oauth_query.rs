//! The query strings of `/auth/start` and `/auth/callback`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(raw) = std::str::from_utf8(data) {
        let _ = stagegate::identity::routes::parse_queries(raw);
    }
});
