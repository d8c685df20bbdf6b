//! Fuzz target `eventbridge`: see `blankslate_fuzz::eventbridge` for what it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    blankslate_fuzz::eventbridge(data);
});
