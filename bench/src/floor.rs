//! The floor: the least work that can turn the same envelope bytes into a
//! dispatched call, with none of the gate's checks. Raw header split, one
//! ring open in place, a typed serde parse into borrowed structs, one
//! `HashMap` lookup and a call. No window, origin or replay check, no
//! limits scan, no duplicate-key check, no policy, no audit counters.

use base64::engine::general_purpose::NO_PAD_INDIFFERENT;
use base64::engine::Simd;
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use serde::Deserialize;
use std::collections::HashMap;

/// The message, borrowed from the plaintext (no escapes in the fixtures).
#[derive(Deserialize)]
struct Msg<'a> {
    #[allow(dead_code)]
    kind: &'a str,
    id: u64,
    cmd: &'a str,
    #[serde(borrow)]
    args: Args<'a>,
}

/// The fixtures' arguments, typed.
#[derive(Deserialize)]
pub struct Args<'a> {
    name: &'a str,
    #[serde(default)]
    note: Option<&'a str>,
}

type Handler = fn(u64, &Args<'_>, &[u8]) -> usize;

/// The floor's "router": a do-nothing handler.
fn greet(id: u64, args: &Args<'_>, body: &[u8]) -> usize {
    id as usize + args.name.len() + args.note.map_or(0, str::len) + body.len()
}

/// The hand-assembled floor.
pub struct Floor {
    key: LessSafeKey,
    table: HashMap<&'static str, Handler>,
    base64: Simd,
}

impl Floor {
    /// The floor with the benchmarks' key.
    pub fn new(key: &[u8; 32]) -> Self {
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("AES-256 key"));
        let mut table: HashMap<&'static str, Handler> = HashMap::new();
        table.insert("greet", greet);
        Self {
            key,
            table,
            base64: Simd::url_safe(NO_PAD_INDIFFERENT),
        }
    }

    /// Binary transport: the envelope bytes, read-only (one copy to open).
    pub fn handle(&self, bytes: &[u8]) -> Option<usize> {
        let header_len = header_len(bytes)?;
        let mut buf = bytes.get(header_len..)?.to_vec();
        self.open_and_dispatch(bytes.get(..header_len)?, &mut buf)
    }

    /// Text transport: decode base64url (the SIMD engine) into a buffer and
    /// open it in place (no second copy).
    pub fn handle_text(&self, text: &str) -> Option<usize> {
        let mut bytes = self.base64.decode(text).ok()?;
        let header_len = header_len(&bytes)?;
        let (header, sealed) = bytes.split_at_mut(header_len);
        self.open_and_dispatch(header, sealed)
    }

    fn open_and_dispatch(&self, header: &[u8], sealed: &mut [u8]) -> Option<usize> {
        let nonce: [u8; 12] = header.get(header.len() - 12..)?.try_into().ok()?;
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                sealed,
            )
            .ok()?;
        let (len, rest) = plain.split_first_chunk::<4>()?;
        let (json, body) = rest.split_at_checked(u32::from_be_bytes(*len) as usize)?;
        let msg: Msg<'_> = serde_json::from_slice(json).ok()?;
        let handler = self.table.get(msg.cmd)?;
        Some(handler(msg.id, &msg.args, body))
    }
}

/// The header length of a version-1 envelope, unchecked beyond bounds.
fn header_len(bytes: &[u8]) -> Option<usize> {
    let window_len = usize::from(*bytes.get(1)?);
    let at = 2 + window_len;
    let origin_len = usize::from(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]));
    let len = at + 2 + origin_len + 12;
    (bytes.len() >= len + 16).then_some(len)
}
