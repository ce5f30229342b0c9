#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| isogate::fuzzing::message_decode(data));
