//! What a recorded refusal and the mock's `replay` layer share: how an identity is
//! recognised without storing its credentials.

use sha2::{Digest, Sha256};

/// The salted SHA-256 (lowercase hex) of credential header values, in order: a recording
/// stores it instead of the credentials, and the mock's `replay` layer computes it from
/// a request's values of the same headers to find the identity's recording.
///
/// ```
/// let a = rolecall_scenario::credential_digest("salt", &["Bearer viewer-token"]);
/// assert_eq!(a.len(), 64);
/// assert_ne!(a, rolecall_scenario::credential_digest("other", &["Bearer viewer-token"]));
/// ```
pub fn credential_digest(salt: &str, values: &[&str]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    for value in values {
        // A separator no header value holds: ["ab", "c"] and ["a", "bc"] differ.
        hasher.update(b"\n");
        hasher.update(value.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_sha256_of_the_salt_and_each_value_after_a_newline() {
        // printf 's\na' | sha256sum
        assert_eq!(
            credential_digest("s", &["a"]),
            "009fa556751b7e96aae6f5d05d2fe3df806a6a1530e37d6a5f19a97166881340"
        );
        assert_ne!(
            credential_digest("s", &["ab", "c"]),
            credential_digest("s", &["a", "bc"])
        );
    }
}
