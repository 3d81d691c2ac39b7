//! The form the sign-in confirmation page posts to `/auth/start`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = stagegate::identity::routes::parse_start_form(data);
});
