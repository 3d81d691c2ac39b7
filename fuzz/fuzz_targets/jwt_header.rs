//! The bearer token header checks (allowed algorithms, `kid`) every Teams
//! request meets before any key is fetched.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        let _ = stagegate::chat::teams::auth::token_header(token);
    }
});
