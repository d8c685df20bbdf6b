//! Fuzz target `journal`: see `blankslate_fuzz::journal` for what it asserts.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    blankslate_fuzz::journal(data);
});
