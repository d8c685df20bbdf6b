//! Fuzz target `any`: see `blankslate_fuzz::any` for what it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    blankslate_fuzz::any(data);
});
