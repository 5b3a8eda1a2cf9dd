//! Stream keys: generated here with 256 bits from the OS's CSPRNG, shown to the admin once, and
//! stored only as their SHA-256. A salted slow hash (argon2) is for low-entropy passwords; a
//! 256-bit random key cannot be brute-forced, and a plain digest keeps the lookup by key O(1).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of every stream key, so a leaked key is recognisable (secret scanners, logs).
pub const KEY_PREFIX: &str = "sk_";

/// Longest key accepted for validation (longer input is refused before hashing).
pub const MAX_KEY_LEN: usize = 128;

/// A new stream key: its id (a UUID v7, sortable by creation) and the secret.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The key's public id (for listing and revoking).
    pub id: String,
    /// The secret, shown once.
    pub secret: node::redact::Redacted<String>,
    /// SHA-256 of the secret, hex: what is stored.
    pub hash: String,
}

/// Generates a key.
pub fn generate() -> NewKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    NewKey {
        id: uuid::Uuid::now_v7().to_string(),
        hash: hash(&secret),
        secret: node::redact::Redacted::new(secret),
    }
}

/// The stored form of `key`: SHA-256, lowercase hex.
pub fn hash(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_unique_prefixed_and_hash_stably() {
        let a = super::generate();
        let b = super::generate();
        assert_ne!(a.secret, b.secret);
        assert_ne!(a.id, b.id);
        assert!(a.secret.expose().starts_with(super::KEY_PREFIX));
        assert_eq!(a.secret.expose().len(), 3 + 43);
        assert_eq!(a.hash, super::hash(a.secret.expose()));
        assert_eq!(a.hash.len(), 64);
        assert_eq!(
            super::hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
