//! The per-launch sealing key.
//!
//! One AES-256-GCM key per launch, drawn from the operating system's CSPRNG.
//! The raw bytes leave the core only inside a rendered isolation-frame
//! document; the type has no `Debug`, `Display` or `Clone`, and the bytes are
//! wiped when it is dropped.

use ring::aead::{LessSafeKey, UnboundKey, AES_256_GCM};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// Length of the key in bytes.
pub const KEY_LEN: usize = 32;

/// The key of one launch of the host.
pub struct LaunchKey {
    raw: Zeroizing<[u8; KEY_LEN]>,
    aead: LessSafeKey,
}

/// The operating system's random number generator failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RandomError;

impl LaunchKey {
    /// Draws a fresh key from the system CSPRNG. Call once per launch.
    pub fn generate() -> Result<Self, RandomError> {
        let mut raw = Zeroizing::new([0u8; KEY_LEN]);
        SystemRandom::new()
            .fill(raw.as_mut())
            .map_err(|_| RandomError)?;
        Ok(Self::from_raw(raw))
    }

    pub(crate) fn from_raw(raw: Zeroizing<[u8; KEY_LEN]>) -> Self {
        // `UnboundKey::new` only fails for a wrong length, which the array type rules out.
        #[expect(
            clippy::expect_used,
            reason = "the array length is AES_256_GCM's key length"
        )]
        let unbound = UnboundKey::new(&AES_256_GCM, raw.as_ref()).expect("32-byte AES-256 key");
        Self {
            aead: LessSafeKey::new(unbound),
            raw,
        }
    }

    /// Parses the text of a key file: 64 hex digits, or base64 (standard or
    /// URL-safe alphabet, padded or not) of exactly 32 bytes, surrounded by
    /// optional whitespace. See `docs/WIRE.md`, section 1.
    pub fn from_key_file_text(text: &str) -> Result<Self, KeyFileError> {
        let text = text.trim();
        let mut raw = Zeroizing::new([0u8; KEY_LEN]);
        if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode_to_slice(text, &mut raw[..]).map_err(|_| KeyFileError::NotHexOrBase64)?;
            return Ok(Self::from_raw(raw));
        }
        let decoded = Zeroizing::new(
            crate::envelope::decode_base64(text.as_bytes()).ok_or(KeyFileError::NotHexOrBase64)?,
        );
        if decoded.len() != KEY_LEN {
            return Err(KeyFileError::WrongLength(decoded.len()));
        }
        raw.copy_from_slice(&decoded);
        Ok(Self::from_raw(raw))
    }

    pub(crate) fn aead(&self) -> &LessSafeKey {
        &self.aead
    }

    /// The raw bytes, for rendering the isolation-frame document only.
    pub(crate) fn raw_bytes(&self) -> &[u8; KEY_LEN] {
        &self.raw
    }
}

/// Why a key file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    /// The text is neither 64 hex digits nor base64.
    #[error("key file is neither 64 hex digits nor base64 of 32 bytes")]
    NotHexOrBase64,
    /// The text decoded to this many bytes instead of 32.
    #[error("key file decodes to {0} bytes, expected 32")]
    WrongLength(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_accepts_hex_and_base64_forms() {
        let hex: String = (0u8..32).map(|b| format!("{b:02x}")).collect();
        let a = LaunchKey::from_key_file_text(&format!("  {hex}\n")).unwrap();
        assert_eq!(a.raw_bytes()[31], 31);
        let upper = LaunchKey::from_key_file_text(&hex.to_uppercase()).unwrap();
        assert_eq!(upper.raw_bytes(), a.raw_bytes());
        for b64 in [
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        ] {
            let k = LaunchKey::from_key_file_text(b64).unwrap();
            assert_eq!(k.raw_bytes(), a.raw_bytes());
        }
    }

    #[test]
    fn key_file_rejects_other_text() {
        assert_eq!(
            LaunchKey::from_key_file_text("AAEC").err(),
            Some(KeyFileError::WrongLength(3))
        );
        assert_eq!(
            LaunchKey::from_key_file_text("not a key!").err(),
            Some(KeyFileError::NotHexOrBase64)
        );
        assert!(LaunchKey::from_key_file_text("").is_err());
    }

    #[test]
    fn generated_keys_differ() {
        let a = LaunchKey::generate().unwrap();
        let b = LaunchKey::generate().unwrap();
        assert_ne!(a.raw_bytes(), b.raw_bytes());
    }
}
