//! A fast hasher for the gate's internal tables of names.

use std::hash::Hasher;

/// Fx-style hasher (a rotate, xor and multiply a word) for tables whose
/// keys the frontend cannot choose: the policy's names, and the window
/// labels the host renders frames for. Lookups with any key stay safe; only
/// inserting chosen keys could make a table degrade, and SipHash's flood
/// resistance would cost for nothing.
#[derive(Default, Clone, Copy)]
pub(crate) struct NameHasher(u64);

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        if let Some(dst) = tail.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        // The length keeps `ab` + `` apart from `a` + `b`.
        self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(tail) ^ ((rest.len() as u64) << 59))
            .wrapping_mul(K);
    }

    fn write_u8(&mut self, b: u8) {
        self.write(&[b]);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
