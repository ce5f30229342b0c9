//! Envelope codec: the transport bytes, their header (the AEAD's associated
//! data) and the AES-256-GCM open. The layout is specified in `docs/WIRE.md`.

use crate::key::LaunchKey;
use base64::Engine as _;
use ring::aead::{Aad, Nonce, NONCE_LEN};

/// The only wire-format version this core accepts.
pub const VERSION: u8 = 0x01;
pub use crate::names::MAX_WINDOW_LEN;
/// Longest origin in a header, in bytes.
pub const MAX_ORIGIN_LEN: usize = 1024;
/// Largest envelope any transport may hand the core, in bytes.
pub const MAX_ENVELOPE_LEN: usize = 64 * 1024 * 1024;
/// Length of the AES-GCM tag that ends every envelope.
pub const TAG_LEN: usize = 16;

/// The 96-bit AES-GCM nonce: the frame load's id, then its sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealNonce {
    /// Which load of the isolation frame sealed the envelope.
    pub load_id: u32,
    /// How many envelopes that load had sealed before this one.
    pub seq: u64,
}

impl SealNonce {
    /// The 12 nonce bytes as they appear on the wire.
    pub fn to_bytes(self) -> [u8; NONCE_LEN] {
        let mut out = [0u8; NONCE_LEN];
        let (load, seq) = out.split_at_mut(4);
        load.copy_from_slice(&self.load_id.to_be_bytes());
        seq.copy_from_slice(&self.seq.to_be_bytes());
        out
    }
}

/// A decoded envelope that borrows the transport's bytes. Nothing in it is
/// authenticated until [`open`] succeeds.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeRef<'a> {
    /// The header bytes, which are also the associated data.
    pub header: &'a [u8],
    /// Window label the sealer claims.
    pub window: &'a str,
    /// Origin the sealer claims.
    pub origin: &'a str,
    /// The nonce.
    pub nonce: SealNonce,
    /// Ciphertext followed by the tag.
    pub sealed: &'a [u8],
}

/// A small bounds-checked reader: every read returns `None` past the end.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes(b.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes(b.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        Some(u64::from_be_bytes(b.try_into().ok()?))
    }
}

/// Decodes the binary form of an envelope. Returns `None` for anything that
/// is not a well-formed version-1 envelope.
pub fn decode(bytes: &[u8]) -> Option<EnvelopeRef<'_>> {
    if bytes.len() > MAX_ENVELOPE_LEN {
        return None;
    }
    let mut r = Reader { rest: bytes };
    let (window, origin, nonce) = read_header(&mut r)?;
    let header_len = bytes.len() - r.rest.len();
    let header = bytes.get(..header_len)?;
    let sealed = r.rest;
    if sealed.len() < TAG_LEN {
        return None;
    }
    Some(EnvelopeRef {
        header,
        window,
        origin,
        nonce,
        sealed,
    })
}

/// Reads the header fields, up to and including the nonce.
fn read_header<'a>(r: &mut Reader<'a>) -> Option<(&'a str, &'a str, SealNonce)> {
    if r.u8()? != VERSION {
        return None;
    }
    let window_len = usize::from(r.u8()?);
    if window_len == 0 || window_len > MAX_WINDOW_LEN {
        return None;
    }
    let window = std::str::from_utf8(r.take(window_len)?).ok()?;
    if !crate::names::is_window_label(window) {
        return None;
    }
    let origin_len = usize::from(r.u16()?);
    if origin_len == 0 || origin_len > MAX_ORIGIN_LEN {
        return None;
    }
    let origin = r.take(origin_len)?;
    if !origin.is_ascii() {
        return None;
    }
    let origin = std::str::from_utf8(origin).ok()?;
    let load_id = r.u32()?;
    let seq = r.u64()?;
    Some((window, origin, SealNonce { load_id, seq }))
}

/// The header bytes (associated data) for a window, origin and nonce.
#[cfg(any(test, feature = "test-util"))]
pub fn encode_header(window: &str, origin: &str, nonce: SealNonce) -> Option<Vec<u8>> {
    if !crate::names::is_window_label(window) {
        return None;
    }
    if origin.is_empty() || origin.len() > MAX_ORIGIN_LEN || !origin.is_ascii() {
        return None;
    }
    let mut out = Vec::with_capacity(4 + window.len() + origin.len() + NONCE_LEN);
    out.push(VERSION);
    out.push(u8::try_from(window.len()).ok()?);
    out.extend_from_slice(window.as_bytes());
    out.extend_from_slice(&u16::try_from(origin.len()).ok()?.to_be_bytes());
    out.extend_from_slice(origin.as_bytes());
    out.extend_from_slice(&nonce.to_bytes());
    Some(out)
}

/// Opens the envelope with the launch key, returning the plaintext. The
/// header is the associated data, so every header byte is authenticated.
pub fn open(key: &LaunchKey, envelope: &EnvelopeRef<'_>) -> Option<Vec<u8>> {
    let mut buf = envelope.sealed.to_vec();
    let nonce = Nonce::assume_unique_for_key(envelope.nonce.to_bytes());
    let len = key
        .aead()
        .open_in_place(nonce, Aad::from(envelope.header), &mut buf)
        .ok()?
        .len();
    buf.truncate(len);
    Some(buf)
}

/// Opens the envelope in a copy of its sealed bytes made in `scratch`, for
/// callers that have a buffer at hand (the gate's stack buffer for small
/// envelopes). Returns the plaintext, borrowed from `scratch`, or `None`
/// when the tag does not verify or `scratch` is too short.
pub(crate) fn open_into<'s>(
    key: &LaunchKey,
    envelope: &EnvelopeRef<'_>,
    scratch: &'s mut [u8],
) -> Option<&'s [u8]> {
    let buf = scratch.get_mut(..envelope.sealed.len())?;
    buf.copy_from_slice(envelope.sealed);
    let nonce = Nonce::assume_unique_for_key(envelope.nonce.to_bytes());
    let plaintext = key
        .aead()
        .open_in_place(nonce, Aad::from(envelope.header), buf)
        .ok()?;
    Some(plaintext)
}

/// Why [`open_in_place`] refused an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Not a well-formed version-1 envelope ([`decode`] would say `None`).
    Malformed,
    /// Well formed, but the tag does not verify.
    BadTag,
}

/// Decodes an envelope in a buffer the caller owns (the text transport's
/// decoded bytes, a request body handed over) and opens it in place, so
/// the ciphertext is not copied and the header is read once. Returns the
/// header fields and the plaintext, both borrowed from `bytes`; the
/// returned envelope's `sealed` is empty, its bytes now hold the
/// plaintext. Refuses exactly what [`decode`] refuses as `Malformed`.
pub(crate) fn open_in_place<'a>(
    key: &LaunchKey,
    bytes: &'a mut [u8],
) -> Result<(EnvelopeRef<'a>, &'a [u8]), Refused> {
    if bytes.len() > MAX_ENVELOPE_LEN {
        return Err(Refused::Malformed);
    }
    // The header's length, from its two length fields; `read_header`
    // checks everything else in it below.
    let window_len = usize::from(*bytes.get(1).ok_or(Refused::Malformed)?);
    let origin_len = bytes
        .get(2 + window_len..4 + window_len)
        .and_then(|b| b.try_into().ok())
        .map(|b| usize::from(u16::from_be_bytes(b)))
        .ok_or(Refused::Malformed)?;
    let header_len = 4 + window_len + origin_len + NONCE_LEN;
    let (header, sealed) = bytes
        .split_at_mut_checked(header_len)
        .ok_or(Refused::Malformed)?;
    if sealed.len() < TAG_LEN {
        return Err(Refused::Malformed);
    }
    let header: &'a [u8] = header;
    let mut r = Reader { rest: header };
    let (window, origin, nonce) = read_header(&mut r).ok_or(Refused::Malformed)?;
    let plaintext = key
        .aead()
        .open_in_place(
            Nonce::assume_unique_for_key(nonce.to_bytes()),
            Aad::from(header),
            sealed,
        )
        .map_err(|_| Refused::BadTag)?;
    let env = EnvelopeRef {
        header,
        window,
        origin,
        nonce,
        sealed: &[],
    };
    Ok((env, plaintext))
}

/// Seals a plaintext into a full envelope, as the isolation frame does.
/// Used by the `danger` sealer for tests, fuzzing and tools.
#[cfg(any(test, feature = "test-util"))]
pub(crate) fn seal(
    key: &LaunchKey,
    window: &str,
    origin: &str,
    nonce: SealNonce,
    plaintext: &[u8],
) -> Option<Vec<u8>> {
    let mut out = encode_header(window, origin, nonce)?;
    let header_len = out.len();
    out.reserve(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    let (header, body) = out.split_at_mut(header_len);
    let tag = key
        .aead()
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce.to_bytes()),
            Aad::from(&*header),
            body,
        )
        .ok()?;
    out.extend_from_slice(tag.as_ref());
    Some(out)
}

/// Decodes the text transport form: base64url without padding, also
/// accepting the standard alphabet and `=` padding.
pub fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    // Bound the output before allocating: 3 bytes per 4 characters.
    if text.len() / 4 * 3 > MAX_ENVELOPE_LEN + 3 {
        return None;
    }
    // The two alphabets differ only in `-_` against `+/`: text that uses
    // neither decodes alike in both, text that uses one pair fails in the
    // other alphabet, text that mixes them fails in both.
    base64_engines::URL_SAFE
        .decode(text)
        .ok()
        .or_else(|| base64_engines::STANDARD.decode(text).ok())
}

/// The text transport's decoders: base64's SIMD engine where the target has
/// one (AVX2 detected at run time on x86-64, NEON on AArch64; it falls back
/// to the scalar engine when the CPU lacks AVX2), the scalar engine
/// elsewhere. Same alphabets and padding rules either way.
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_feature = "neon")
))]
mod base64_engines {
    use base64::engine::general_purpose::PAD_INDIFFERENT;
    use base64::engine::Simd;
    use std::sync::LazyLock;

    pub(super) static URL_SAFE: LazyLock<Simd> = LazyLock::new(|| Simd::url_safe(PAD_INDIFFERENT));
    pub(super) static STANDARD: LazyLock<Simd> = LazyLock::new(|| Simd::standard(PAD_INDIFFERENT));
}

#[cfg(not(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_feature = "neon")
)))]
mod base64_engines {
    pub(super) use base64::engine::general_purpose::{
        STANDARD_PAD_INDIFFERENT as STANDARD, URL_SAFE_PAD_INDIFFERENT as URL_SAFE,
    };
}

/// Encodes envelope bytes in the text transport form (base64url, no padding).
#[cfg(any(test, feature = "test-util"))]
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> LaunchKey {
        LaunchKey::from_raw(zeroize::Zeroizing::new(std::array::from_fn(|i| i as u8)))
    }

    /// WIRE.md section 2's bound on a whole envelope, written out (not
    /// the constant of the code, so a slip in the constant shows).
    const WIRE_MAX_ENVELOPE: usize = 64 * 1024 * 1024;

    /// Envelope bytes with the given header fields and `sealed_len` bytes
    /// after the nonce; `window_len` and `origin_len` are the raw lengths.
    fn raw(window: &[u8], origin: &[u8], sealed_len: usize) -> Vec<u8> {
        let mut out = vec![VERSION, window.len() as u8];
        out.extend_from_slice(window);
        out.extend_from_slice(&(origin.len() as u16).to_be_bytes());
        out.extend_from_slice(origin);
        out.extend_from_slice(&SealNonce { load_id: 5, seq: 6 }.to_bytes());
        out.resize(out.len() + sealed_len, 0);
        out
    }

    #[test]
    fn header_lengths_are_bounded_exactly() {
        let w128 = [b'w'; 128];
        let w129 = [b'w'; 129];
        let o1024 = [b'o'; 1024];
        let o1025 = [b'o'; 1025];
        let ok = |w: &[u8], o: &[u8]| decode(&raw(w, o, TAG_LEN)).is_some();
        assert!(ok(b"w", b"o"));
        assert!(ok(&w128, b"o"), "a 128-byte window is valid");
        assert!(!ok(&w129, b"o"), "a 129-byte window is not");
        assert!(!ok(b"", b"o"), "an empty window is not");
        assert!(ok(b"w", &o1024), "a 1024-byte origin is valid");
        assert!(!ok(b"w", &o1025), "a 1025-byte origin is not");
        assert!(!ok(b"w", b""), "an empty origin is not");
        assert!(!ok(b"w", "h\u{e9}".as_bytes()), "a non-ASCII origin is not");
        assert!(!ok(&[0xff], b"o"), "a window that is not UTF-8 is not");
        let widest = raw(&w128, &o1024, TAG_LEN);
        let d = decode(&widest).unwrap();
        assert_eq!((d.window.len(), d.origin.len()), (128, 1024));
        assert_eq!(d.header.len(), 1 + 1 + 128 + 2 + 1024 + 12);
        assert_eq!(d.sealed.len(), TAG_LEN);
        assert_eq!(d.nonce, SealNonce { load_id: 5, seq: 6 });

        // The sealer's side refuses the same fields.
        let w128 = "w".repeat(128);
        let o1024 = "o".repeat(1024);
        let header = |w: &str, o: &str| encode_header(w, o, SealNonce { load_id: 5, seq: 6 });
        let expected = raw(w128.as_bytes(), o1024.as_bytes(), 0);
        assert_eq!(header(&w128, &o1024), Some(expected));
        assert!(header(&"w".repeat(129), "o").is_none());
        assert!(header("", "o").is_none());
        assert!(header("w", &"o".repeat(1025)).is_none());
        assert!(header("w", "").is_none());
        assert!(header("w", "h\u{e9}").is_none());
    }

    #[test]
    fn decode_takes_an_envelope_of_exactly_64_mib() {
        let header_len = raw(b"w", b"o", 0).len();
        let largest = raw(b"w", b"o", WIRE_MAX_ENVELOPE - header_len);
        assert_eq!(largest.len(), WIRE_MAX_ENVELOPE);
        let d = decode(&largest).unwrap();
        assert_eq!(d.sealed.len(), WIRE_MAX_ENVELOPE - header_len);
        let over = raw(b"w", b"o", WIRE_MAX_ENVELOPE - header_len + 1);
        assert!(decode(&over).is_none());
        // Opened in place: the same bound (the tag of these is not valid).
        let (mut largest, mut over) = (largest, over);
        assert_eq!(
            open_in_place(&key(), &mut largest).err(),
            Some(Refused::BadTag)
        );
        assert_eq!(
            open_in_place(&key(), &mut over).err(),
            Some(Refused::Malformed)
        );
    }

    /// The text form is refused unread only when its decoded length could
    /// not fit (3 bytes per 4 characters, over 64 MiB plus one group).
    #[test]
    fn base64_is_refused_unread_only_past_the_bound() {
        let largest = (WIRE_MAX_ENVELOPE + 3) / 3 * 4;
        let text = vec![b'A'; largest];
        let bytes = decode_base64(&text).unwrap();
        assert_eq!(bytes.len(), largest / 4 * 3);
        assert!(bytes.len() > WIRE_MAX_ENVELOPE);
        assert!(decode_base64(&vec![b'A'; largest + 4]).is_none());
    }

    #[test]
    fn header_windows_must_be_window_labels() {
        // One grammar for labels (`names::is_window_label`): a header whose
        // window is empty, has whitespace, a control character or `*`, or
        // is over 128 bytes is not an envelope (`malformed`).
        let header = |window: &[u8]| {
            let mut out = vec![VERSION, window.len() as u8];
            out.extend_from_slice(window);
            out.extend_from_slice(&[0, 8]);
            out.extend_from_slice(b"http://a");
            out.extend_from_slice(&[0; 12 + TAG_LEN]);
            out
        };
        for good in [&b"main"[..], "ünï-€".as_bytes(), &[b'w'; 128]] {
            assert!(decode(&header(good)).is_some(), "{good:?}");
        }
        for bad in [
            &b"a b"[..],
            b"a\tb",
            b"main\n",
            b"a\x7fb",
            "a\u{a0}b".as_bytes(),
            "a\u{2028}b".as_bytes(),
            b"ma*n",
            b"*",
        ] {
            assert!(decode(&header(bad)).is_none(), "{bad:?}");
        }
        assert!(encode_header("a b", "http://a", SealNonce { load_id: 0, seq: 0 }).is_none());
        assert!(encode_header(
            &"w".repeat(129),
            "http://a",
            SealNonce { load_id: 0, seq: 0 }
        )
        .is_none());
    }

    #[test]
    fn seal_then_decode_then_open_round_trips() {
        let nonce = SealNonce { load_id: 3, seq: 9 };
        let env = seal(&key(), "main", "http://127.0.0.1:1", nonce, b"hello").unwrap();
        let d = decode(&env).unwrap();
        assert_eq!(
            (d.window, d.origin, d.nonce),
            ("main", "http://127.0.0.1:1", nonce)
        );
        assert_eq!(open(&key(), &d).unwrap(), b"hello");
    }

    #[test]
    fn decode_rejects_malformed_headers() {
        let env = seal(&key(), "w", "o", SealNonce { load_id: 1, seq: 0 }, b"x").unwrap();
        assert!(decode(&[]).is_none());
        for cut in 0..env.len() - TAG_LEN {
            assert!(
                decode(&env[..cut]).is_none(),
                "prefix of {cut} bytes decoded"
            );
        }
        let mut bad_version = env.clone();
        bad_version[0] = 2;
        assert!(decode(&bad_version).is_none());
        let mut zero_window = env.clone();
        zero_window[1] = 0;
        assert!(decode(&zero_window).is_none());
    }

    #[test]
    fn any_header_change_fails_the_tag() {
        let env = seal(
            &key(),
            "main",
            "http://a",
            SealNonce { load_id: 1, seq: 0 },
            b"x",
        )
        .unwrap();
        let header_len = decode(&env).unwrap().header.len();
        for i in 0..header_len {
            let mut e = env.clone();
            e[i] ^= 0x01;
            if let Some(d) = decode(&e) {
                assert!(open(&key(), &d).is_none(), "flip at {i} opened");
            }
        }
    }

    #[test]
    fn base64_forms_decode_alike() {
        let bytes: Vec<u8> = (0..=255).collect();
        let url = encode_base64(&bytes);
        let std = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert_eq!(decode_base64(url.as_bytes()).unwrap(), bytes);
        assert_eq!(decode_base64(std.as_bytes()).unwrap(), bytes);
        assert!(decode_base64(b"***").is_none());
    }

    #[test]
    fn open_in_place_matches_open() {
        let nonce = SealNonce { load_id: 4, seq: 2 };
        for len in [0usize, 1, 15, 16, 17, 100, 4096] {
            let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let env = seal(&key(), "main", "http://a", nonce, &plain).unwrap();
            let mut buf = env.clone();
            let (d, opened) = open_in_place(&key(), &mut buf).unwrap();
            assert_eq!((d.window, d.origin, d.nonce), ("main", "http://a", nonce));
            assert_eq!(opened, &plain[..]);
            let mut tampered = env.clone();
            *tampered.last_mut().unwrap() ^= 1;
            assert_eq!(
                open_in_place(&key(), &mut tampered).err(),
                Some(Refused::BadTag)
            );
            for cut in [0, 1, 3, env.len() - TAG_LEN - len - 1] {
                let mut short = env[..cut].to_vec();
                assert_eq!(
                    open_in_place(&key(), &mut short).err(),
                    Some(Refused::Malformed)
                );
            }
        }
    }

    /// In-place opening refuses as malformed exactly what `decode` refuses,
    /// whatever header byte is changed (each to every value): it finds the
    /// header's length from the length fields before reading the rest.
    #[test]
    fn open_in_place_refuses_what_decode_refuses() {
        let env = seal(
            &key(),
            "main",
            "http://a",
            SealNonce { load_id: 1, seq: 1 },
            b"x",
        )
        .unwrap();
        let header_len = decode(&env).unwrap().header.len();
        for at in 0..header_len {
            for value in 0..=255u8 {
                let mut changed = env.clone();
                changed[at] = value;
                let malformed = decode(&changed).is_none();
                let got = open_in_place(&key(), &mut changed.clone()).err();
                if malformed {
                    assert_eq!(got, Some(Refused::Malformed), "byte {at} = {value}");
                } else {
                    assert_ne!(got, Some(Refused::Malformed), "byte {at} = {value}");
                }
            }
        }
    }

    #[test]
    fn simd_base64_agrees_with_the_scalar_engine() {
        use base64::engine::general_purpose::{
            STANDARD_PAD_INDIFFERENT, URL_SAFE_NO_PAD, URL_SAFE_PAD_INDIFFERENT,
        };
        let reference = |t: &[u8]| {
            if t.iter().any(|&b| b == b'+' || b == b'/') {
                STANDARD_PAD_INDIFFERENT.decode(t).ok()
            } else {
                URL_SAFE_PAD_INDIFFERENT.decode(t).ok()
            }
        };
        let mut next = crate::test_rng::xorshift(7);
        for len in 0..400usize {
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let url = URL_SAFE_NO_PAD.encode(&bytes);
            let std = base64::engine::general_purpose::STANDARD.encode(&bytes);
            for text in [url.clone(), std, format!("{url}="), format!("{url}==")] {
                assert_eq!(decode_base64(text.as_bytes()), reference(text.as_bytes()));
            }
            // One corrupted character anywhere, including mixed alphabets.
            if !url.is_empty() {
                for bad in [b'*', b'+', b'/', b'=', b'-', b'_', b' ', b'A'] {
                    let mut t = url.clone().into_bytes();
                    let at = next() as usize % t.len();
                    t[at] = bad;
                    assert_eq!(
                        decode_base64(&t),
                        reference(&t),
                        "{}",
                        String::from_utf8_lossy(&t)
                    );
                }
            }
        }
    }
}
