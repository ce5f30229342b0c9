//! Tauri's own isolation decoder (`tauri-utils`, feature `isolation`), fed
//! what Tauri's isolation frame sends: `{"nonce": [..], "payload": [..],
//! "contentType": ".."}`, with the nonce and the AES-GCM ciphertext as JSON
//! number arrays (`Array.from(new Uint8Array(..))` in Tauri's
//! `isolation.js`).
//!
//! The measured path is the one Tauri's `ipc/protocol.rs`
//! (`parse_invoke_request`) runs on the request body: parse the
//! `RawIsolationPayload`, take its content type, decrypt, then keep the bytes
//! as the raw body (`application/octet-stream`) or parse them into a
//! `serde_json::Value` (`application/json`). The content type is compared
//! as a string here rather than parsed as a MIME type, which only favours
//! Tauri.

use serde_json::Value;
use tauri_utils::pattern::isolation::{Keys, RawIsolationPayload};

/// The body Tauri hands to the command.
pub enum InvokeBody {
    /// `application/octet-stream`.
    Raw(Vec<u8>),
    /// `application/json`.
    Json(Value),
}

impl InvokeBody {
    /// Length of the raw body (0 for JSON).
    pub fn raw_len(&self) -> usize {
        match self {
            InvokeBody::Raw(b) => b.len(),
            InvokeBody::Json(v) => usize::from(!v.is_null()),
        }
    }
}

/// Tauri's isolation keys and decoder.
pub struct Tauri {
    keys: Keys,
}

impl Tauri {
    /// Fresh keys, as Tauri makes them per launch.
    pub fn new() -> Self {
        Self {
            keys: Keys::new().expect("tauri isolation keys"),
        }
    }

    /// What Tauri's isolation frame posts for `plaintext`.
    pub fn seal(&self, nonce: [u8; 12], plaintext: &[u8], content_type: &str) -> Vec<u8> {
        let payload = self
            .keys
            .aes_gcm()
            .encrypt(&nonce, plaintext)
            .expect("tauri encrypt");
        serde_json::to_vec(&serde_json::json!({
            "nonce": nonce,
            "payload": payload,
            "contentType": content_type,
        }))
        .expect("json")
    }

    /// Tauri's path from the request body to the command's body.
    pub fn decode(&self, body: &Vec<u8>) -> Option<InvokeBody> {
        let raw = RawIsolationPayload::try_from(body).ok()?;
        let content_type = raw.content_type().clone();
        let decrypted = self.keys.decrypt(raw).ok()?;
        if content_type == "application/octet-stream" {
            Some(InvokeBody::Raw(decrypted))
        } else {
            serde_json::from_slice(&decrypted)
                .ok()
                .map(InvokeBody::Json)
        }
    }
}
