//! Fuzz target `sns`: see `blankslate_fuzz::sns` for what it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    blankslate_fuzz::sns(data);
});
