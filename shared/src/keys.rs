//! The actor's RSA key pair. aws-lc-rs generates it (constant-time, and the same library the
//! delivery path signs with); keys are kept as PEM because that is what ActivityPub publishes.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;

use crate::error::{Error, Result};

/// A key pair in the PEM forms ActivityPub uses: SPKI `PUBLIC KEY`, PKCS#8 `PRIVATE KEY`.
#[derive(Clone)]
pub struct KeyPairPem {
    pub public_pem: String,
    pub private_pem: String,
}

impl std::fmt::Debug for KeyPairPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPairPem")
            .field("public_pem", &self.public_pem)
            .field("private_pem", &"[redacted]")
            .finish()
    }
}

/// Generates a fresh RSA-2048 key pair, the size every fediverse server accepts.
pub fn generate_rsa_keypair() -> Result<KeyPairPem> {
    let key = KeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| Error::Crypto("RSA key generation failed".into()))?;
    let private_der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&key)
        .map_err(|_| Error::Crypto("cannot encode private key".into()))?;
    let public_der = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(key.public_key())
        .map_err(|_| Error::Crypto("cannot encode public key".into()))?;
    Ok(KeyPairPem {
        public_pem: to_pem("PUBLIC KEY", public_der.as_ref()),
        private_pem: to_pem("PRIVATE KEY", private_der.as_ref()),
    })
}

/// Parses a stored private key, proving it is usable for signing.
pub fn load_private_key(private_pem: &str) -> Result<KeyPair> {
    let parsed =
        pem::parse(private_pem).map_err(|e| Error::Crypto(format!("private key PEM: {e}")))?;
    KeyPair::from_pkcs8(parsed.contents())
        .map_err(|e| Error::Crypto(format!("private key rejected: {e}")))
}

fn to_pem(tag: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(tag, der.to_vec()), config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_and_differ() {
        let a = generate_rsa_keypair().expect("generate");
        let b = generate_rsa_keypair().expect("generate");
        assert!(a.public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(a.private_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(!a.private_pem.contains('\r'));
        assert_ne!(a.public_pem, b.public_pem);
        let key = load_private_key(&a.private_pem).expect("parse");
        // The stored public key is the one that belongs to the private key.
        let public_der = AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(key.public_key())
            .expect("encode");
        assert_eq!(to_pem("PUBLIC KEY", public_der.as_ref()), a.public_pem);
        assert!(!format!("{a:?}").contains("PRIVATE"));
    }

    #[test]
    fn garbage_private_key_is_rejected() {
        assert!(load_private_key("not a key").is_err());
        let fake = to_pem("PRIVATE KEY", b"0123456789");
        assert!(load_private_key(&fake).is_err());
    }
}
