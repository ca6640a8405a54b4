//! Signing webhook bodies: `X-History-Signature: sha256=<hex HMAC-SHA256 of the body>` with a
//! secret shared with the receiver, and the check a receiver makes.
//!
//! ```
//! use history_notify::sign::{sign, verify};
//! let body = br#"{"rule":"failed-apply"}"#;
//! let header = sign(b"shared secret", body);
//! assert!(header.starts_with("sha256="));
//! assert!(verify(b"shared secret", body, &header));
//! assert!(!verify(b"another secret", body, &header));
//! assert!(!verify(b"shared secret", b"{}", &header));
//! ```

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-History-Signature";

/// The header that carries the idempotency key: one per (rule, event), the same on every retry
/// and after a restart.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

const PREFIX: &str = "sha256=";

/// HMAC-SHA256 keyed with `secret`. The key is brought to the block size the way HMAC defines
/// (longer keys hashed, shorter ones padded with zeros), so there is no failing path.
fn mac(secret: &[u8]) -> Hmac<Sha256> {
    let mut key = hmac::digest::Key::<Hmac<Sha256>>::default();
    if secret.len() <= key.len() {
        key[..secret.len()].copy_from_slice(secret);
    } else {
        let digest = Sha256::digest(secret);
        key[..digest.len()].copy_from_slice(&digest);
    }
    <Hmac<Sha256> as KeyInit>::new(&key)
}

/// The signature header's value for `body`: `sha256=` and the lowercase hex HMAC-SHA256.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(body);
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` (an `X-History-Signature` value) is the signature of `body` under `secret`.
/// Compares in constant time.
pub fn verify(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.trim().strip_prefix(PREFIX) else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = mac(secret);
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_vectors() {
        // Test case 2: a short key.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block, hashed first.
        assert_eq!(
            sign(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "sha256=60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn malformed_headers_do_not_verify() {
        for header in ["", "sha256=", "sha256=zz", "md5=00", "5bdcc146"] {
            assert!(!verify(b"Jefe", b"x", header), "{header}");
        }
    }
}
