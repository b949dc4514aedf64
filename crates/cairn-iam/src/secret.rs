//! [`SecretString`]: a secret that never prints and is wiped from memory when dropped.
//!
//! Invariant: the only way to read the secret is [`SecretString::expose`], so every place that
//! handles the plain secret is greppable. There is deliberately no `Display`, `Serialize` or
//! `PartialEq` (compare signatures in constant time instead).

use std::fmt;

use zeroize::Zeroizing;

/// A secret string (an AccessKey secret). `Debug` prints `***`.
#[derive(Clone)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Wraps a secret.
    pub fn new(secret: String) -> Self {
        Self(Zeroizing::new(secret))
    }

    /// The secret itself, for signing or for showing it once to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = SecretString::new("hunter2hunter2".to_owned());
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some(***)");
        assert_eq!(secret.expose(), "hunter2hunter2");
    }
}
