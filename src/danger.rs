//! Dangerous tools for tests, fuzzing and replaying captured traffic.
//!
//! A running app never needs anything here: its key comes from
//! [`LaunchKey::generate`](crate::LaunchKey::generate) and only the isolation
//! frame seals. Fixing a key's bytes or sealing outside the frame undoes the
//! guarantees the rest of the crate gives.

use crate::envelope::{self, SealNonce};
use crate::key::{LaunchKey, KEY_LEN};
use zeroize::Zeroizing;

/// A launch key from known bytes (known-answer tests, replay tools).
pub fn key_from_bytes(bytes: [u8; KEY_LEN]) -> LaunchKey {
    LaunchKey::from_raw(Zeroizing::new(bytes))
}

/// Seals envelopes as one isolation-frame load does.
pub struct Sealer {
    key: LaunchKey,
    window: String,
    origin: String,
    load_id: u32,
    next_seq: u64,
}

impl Sealer {
    /// A sealer for one frame load of one window.
    pub fn new(key_bytes: [u8; KEY_LEN], window: &str, origin: &str, load_id: u32) -> Self {
        Self {
            key: key_from_bytes(key_bytes),
            window: window.to_owned(),
            origin: origin.to_owned(),
            load_id,
            next_seq: 0,
        }
    }

    /// Seals a plaintext with an explicit sequence number.
    pub fn seal_at(&self, seq: u64, plaintext: &[u8]) -> Vec<u8> {
        let nonce = SealNonce {
            load_id: self.load_id,
            seq,
        };
        envelope::seal(&self.key, &self.window, &self.origin, nonce, plaintext).unwrap_or_default()
    }

    /// Seals a plaintext with the next sequence number.
    pub fn seal_plaintext(&mut self, plaintext: &[u8]) -> Vec<u8> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.seal_at(seq, plaintext)
    }

    /// Seals a message given as JSON text plus body, with the next sequence number.
    pub fn seal_json(&mut self, json: &str, body: &[u8]) -> Vec<u8> {
        self.seal_plaintext(&plaintext(json, body))
    }

    /// Seals an `invoke` of `cmd` with `args`, with the next sequence number.
    pub fn invoke(&mut self, id: u64, cmd: &str, args: serde_json::Value) -> Vec<u8> {
        let json = serde_json::json!({"kind": "invoke", "id": id, "cmd": cmd, "args": args});
        self.seal_json(&json.to_string(), &[])
    }

    /// Seals an `emit` of `event` with `payload`, with the next sequence number.
    pub fn emit(&mut self, event: &str, payload: serde_json::Value) -> Vec<u8> {
        let json = serde_json::json!({"kind": "emit", "event": event, "payload": payload});
        self.seal_json(&json.to_string(), &[])
    }
}

/// The text transport's encoding of an envelope (base64url, no padding),
/// as the frame posts it.
pub use crate::envelope::encode_base64;

/// The plaintext layout: `u32 json_len || json || body`.
pub fn plaintext(json: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + json.len() + body.len());
    out.extend_from_slice(&u32::try_from(json.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(json.as_bytes());
    out.extend_from_slice(body);
    out
}
