//! Graph change notification bodies: the clientState gate and the parse.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = stagegate::intake::notifications::check_body(data);
});
