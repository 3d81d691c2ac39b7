//! The chat command parser (`request …`, `status`, Teams `<at>` mentions).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = stagegate_domain::command::parse(text);
    }
});
