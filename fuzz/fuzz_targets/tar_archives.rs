//! Fuzz target: `arca_server::fuzzing::tar_archives` (its doc says what must hold).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arca_server::fuzzing::tar_archives(data));
