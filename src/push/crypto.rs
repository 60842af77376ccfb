//! The two pieces of cryptography Web Push asks of a server, composed from RustCrypto's
//! primitives exactly as the RFCs lay them out:
//!
//! - RFC 8291 message encryption: an ephemeral P-256 key agreed with the browser's `p256dh`
//!   key (ECDH), HKDF-SHA-256 keyed by the browser's `auth` secret, then one AES-128-GCM record
//!   in RFC 8188's `aes128gcm` content coding (salt, record size and our public key in a
//!   header);
//! - RFC 8292 VAPID: a short-lived JWT signed with ES256 by the site's key pair, so the push
//!   service knows every push for a subscription comes from the server it was made for.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::Generate;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{PublicKey, SecretKey};
use sha256::Sha256;

/// An uncompressed P-256 point: `0x04 || x || y`.
pub const PUBLIC_KEY_LEN: usize = 65;
/// The browser's authentication secret (RFC 8291 section 3.2).
pub const AUTH_LEN: usize = 16;
/// The record size written in the header. One record holds the whole message, so any size
/// above the padded plaintext and the tag would do; 4096 is what browsers expect.
const RECORD_SIZE: u32 = 4096;
/// Plaintexts are padded to this many bytes (before the tag), so the length a push service
/// sees does not tell one kind of notification or address from another.
pub const PADDED_LEN: usize = 256;

/// A base64url text without padding, as Web Push writes keys.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads base64url, with or without padding (browsers differ).
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// The uncompressed SEC1 form of a public key.
pub fn public_bytes(key: &PublicKey) -> Vec<u8> {
    key.to_sec1_point(false).as_bytes().to_vec()
}

/// A browser's `p256dh` key, refused unless it is an uncompressed point on the curve.
pub fn parse_public_key(bytes: &[u8]) -> Option<PublicKey> {
    if bytes.len() != PUBLIC_KEY_LEN || bytes.first() != Some(&0x04) {
        return None;
    }
    PublicKey::from_sec1_bytes(bytes).ok()
}

/// A fresh P-256 key pair (the site's VAPID key).
pub fn new_secret_key() -> SecretKey {
    SecretKey::generate()
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the subscription's p256dh key is not a P-256 point")]
    BadPublicKey,
    #[error("the subscription's auth secret is not 16 bytes")]
    BadAuth,
    #[error("the message is too long for one padded record")]
    TooLong,
    #[error("encryption failed")]
    Cipher,
}

/// Encrypts `plaintext` for the browser holding the private half of `ua_public`, with a fresh
/// ephemeral key and salt.
pub fn encrypt(ua_public: &[u8], auth: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    let ephemeral = SecretKey::generate();
    let salt: [u8; 16] = rand::random();
    encrypt_with(ua_public, auth, plaintext, &ephemeral, &salt, PADDED_LEN)
}

/// RFC 8291 section 3 with the ephemeral key and salt given (the RFC's example uses fixed
/// ones). `pad_to` is the length of the plaintext record before the tag: the message, the
/// `0x02` delimiter of a last record (RFC 8188 section 2), then zeros.
fn encrypt_with(
    ua_public: &[u8],
    auth: &[u8],
    plaintext: &[u8],
    as_secret: &SecretKey,
    salt: &[u8; 16],
    pad_to: usize,
) -> Result<Vec<u8>, Error> {
    let ua_key = parse_public_key(ua_public).ok_or(Error::BadPublicKey)?;
    if auth.len() != AUTH_LEN {
        return Err(Error::BadAuth);
    }
    let as_public = public_bytes(&as_secret.public_key());
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua_key.as_affine());

    // PRK_key = HMAC(auth_secret, ecdh_secret); IKM = HMAC(PRK_key, key_info || 0x01).
    let mut key_info = Vec::with_capacity(14 + 2 * PUBLIC_KEY_LEN);
    key_info.extend_from_slice(b"WebPush: info\0");
    key_info.extend_from_slice(ua_public);
    key_info.extend_from_slice(&as_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes())
        .expand(&key_info, &mut ikm)
        .map_err(|_| Error::Cipher)?;

    // RFC 8188: the content-encryption key and nonce from the salt and IKM.
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(|_| Error::Cipher)?;
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .map_err(|_| Error::Cipher)?;

    let len = pad_to.max(plaintext.len() + 1);
    if len + 16 > RECORD_SIZE as usize {
        return Err(Error::TooLong);
    }
    let mut record = Vec::with_capacity(len);
    record.extend_from_slice(plaintext);
    record.push(0x02);
    record.resize(len, 0);
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|_| Error::Cipher)?;
    // The only record is record 0, whose nonce is the derived one unchanged.
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), record.as_slice())
        .map_err(|_| Error::Cipher)?;

    let mut body = Vec::with_capacity(16 + 4 + 1 + PUBLIC_KEY_LEN + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(PUBLIC_KEY_LEN as u8);
    body.extend_from_slice(&as_public);
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// The `Authorization` header for a push to `audience` (the endpoint's origin), valid until
/// `expires` (seconds since the epoch; RFC 8292 allows at most 24 hours ahead).
pub fn vapid_authorization(
    key: &SigningKey,
    audience: &str,
    subject: &str,
    expires: i64,
) -> String {
    let header = b64(br#"{"typ":"JWT","alg":"ES256"}"#);
    let claims = serde_json::json!({"aud": audience, "exp": expires, "sub": subject});
    let claims = b64(claims.to_string().as_bytes());
    let signing_input = format!("{header}.{claims}");
    // ES256 is ECDSA over SHA-256, written as the 64 bytes r || s (RFC 7518 section 3.4).
    let signature: Signature = key.sign(signing_input.as_bytes());
    let public = public_bytes(&PublicKey::from(key.verifying_key()));
    format!(
        "vapid t={signing_input}.{}, k={}",
        b64(&signature.to_bytes()),
        b64(&public)
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;

    fn d(s: &str) -> Vec<u8> {
        unb64(s).unwrap()
    }

    /// RFC 8291 Appendix A, byte for byte (that example has no padding).
    #[test]
    fn the_rfc_example_encrypts_to_the_rfc_bytes() {
        let plaintext = d("V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24");
        assert_eq!(plaintext, b"When I grow up, I want to be a watermelon");
        let as_secret =
            SecretKey::from_slice(&d("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).unwrap();
        assert_eq!(
            b64(&public_bytes(&as_secret.public_key())),
            "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
        );
        let ua_public = d(
            "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        );
        let auth = d("BTBZMqHH6r4Tts7J_aSIgg");
        let salt: [u8; 16] = d("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let body = encrypt_with(&ua_public, &auth, &plaintext, &as_secret, &salt, 0).unwrap();
        assert_eq!(
            b64(&body),
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
        );
    }

    #[test]
    fn padded_messages_are_all_the_same_length() {
        let ua = public_bytes(&new_secret_key().public_key());
        let auth = [7u8; 16];
        let short = encrypt(&ua, &auth, br#"{"kind":"reply","url":"/p/1"}"#).unwrap();
        let long = encrypt(
            &ua,
            &auth,
            br#"{"kind":"newcomer_unanswered","url":"/p/123456789"}"#,
        )
        .unwrap();
        assert_eq!(short.len(), long.len());
        assert_eq!(short.len(), 86 + PADDED_LEN + 16);
    }

    #[test]
    fn bad_keys_are_refused() {
        let auth = [7u8; 16];
        assert!(matches!(
            encrypt(&[4u8; 65], &auth, b"x"),
            Err(Error::BadPublicKey)
        ));
        let ua = public_bytes(&new_secret_key().public_key());
        assert!(matches!(
            encrypt(&ua, &[1u8; 15], b"x"),
            Err(Error::BadAuth)
        ));
    }

    #[test]
    fn vapid_tokens_verify_with_the_public_key() {
        let key = SigningKey::from(new_secret_key());
        let header = vapid_authorization(&key, "https://push.example.net", "mailto:a@b.org", 99);
        let rest = header.strip_prefix("vapid t=").unwrap();
        let (jwt, k) = rest.split_once(", k=").unwrap();
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let vk = VerifyingKey::from_sec1_bytes(&d(k)).unwrap();
        let sig = Signature::from_slice(&d(sig)).unwrap();
        vk.verify(input.as_bytes(), &sig).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&d(input.split_once('.').unwrap().1)).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net");
        assert_eq!(claims["exp"], 99);
        assert_eq!(claims["sub"], "mailto:a@b.org");
    }
}
