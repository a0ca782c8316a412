//! Request ids spelled the way each vendor spells them.
//!
//! Ids only need to be unique enough to find one refusal in a log, not unpredictable, so
//! they come from fastrand's per-thread generator: no lock and no system call per request.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// 32 lowercase hex digits, like nginx's `$request_id`; used by the mock app too.
pub(crate) fn hex32() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// A Cloudflare ray id: 16 hex digits, a dash and the data centre (`8f3a…-FRA`).
pub(crate) fn cf_ray(colo: &str) -> String {
    format!("{:016x}-{colo}", fastrand::u64(..))
}

/// A CloudFront request id: 54 base64url characters and `==`, 56 in all.
pub(crate) fn amz_cf_id() -> String {
    let mut id = String::with_capacity(56);
    for _ in 0..54 {
        id.push(char::from(BASE64URL[fastrand::usize(..BASE64URL.len())]));
    }
    id.push_str("==");
    id
}

/// The `Via` value CloudFront adds: a 32-hex edge host name.
pub(crate) fn cloudfront_via() -> String {
    format!(
        "1.1 {:016x}{:016x}.cloudfront.net (CloudFront)",
        fastrand::u64(..),
        fastrand::u64(..)
    )
}

/// An Akamai reference: `<type>.<8 hex>.<unix seconds>.<8 hex>`; type 18 is an access denial.
pub(crate) fn akamai_reference(kind: u8) -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut id = String::with_capacity(32);
    // Writing to a String cannot fail.
    let _ = write!(
        id,
        "{kind}.{:08x}.{seconds}.{:08x}",
        fastrand::u32(..),
        fastrand::u32(..)
    );
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_vendor_shapes() {
        let ray = cf_ray("FRA");
        let (hex, colo) = ray.split_once('-').unwrap();
        assert_eq!((hex.len(), colo), (16, "FRA"));
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));

        let cf_id = amz_cf_id();
        assert_eq!(cf_id.len(), 56);
        assert!(cf_id.ends_with("=="));

        let reference = akamai_reference(18);
        let parts: Vec<&str> = reference.split('.').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!((parts[0], parts[1].len(), parts[3].len()), ("18", 8, 8));

        assert_eq!(hex32().len(), 32);
        assert!(cloudfront_via().ends_with(".cloudfront.net (CloudFront)"));
    }

    #[test]
    fn ids_differ_between_requests() {
        assert_ne!(hex32(), hex32());
        assert_ne!(cf_ray("AMS"), cf_ray("AMS"));
        assert_ne!(amz_cf_id(), amz_cf_id());
    }
}
