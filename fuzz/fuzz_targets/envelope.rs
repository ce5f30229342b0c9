#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| isogate::fuzzing::envelope_decode(data));
