//! Custom-extension callout bodies relayed by the Logic App.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = stagegate::intake::callouts::parse(data);
});
