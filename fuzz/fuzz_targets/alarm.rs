//! Fuzz target `alarm`: see `blankslate_fuzz::alarm` for what it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    blankslate_fuzz::alarm(data);
});
