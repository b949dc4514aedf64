//! What a search needs from a token index: which tokens must be present, as a small boolean
//! tree of folded token hashes.
//!
//! A [`TokenQuery`] is a *necessary* condition: every record a search matches contains the
//! tokens the query asks for, so an index may skip any block of records that lacks them.
//! It is never sufficient — the matcher still checks every record the index lets through.
//! Whatever a search cannot express in tokens (wildcards, numeric comparisons, negation)
//! becomes [`TokenQuery::Everything`], which skips nothing.
//!
//! Tokens are compared case-folded ([`fold_token_hash`]): the index stores folded hashes, so
//! one index serves case-sensitive and case-insensitive searches alike (a case-sensitive
//! search is simply checked more strictly by the matcher afterwards).

use xxhash_rust::xxh3::xxh3_64;

/// A token a match must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredToken {
    /// Its folded hash ([`fold_token_hash`]): what a token index stores.
    pub hash: u64,
    /// Its text lowercased, when it is ASCII: what a row filter may look for as a substring
    /// of a record's text (a record containing the token contains this text in some case,
    /// unless the record holds non-ASCII text, which can fold to ASCII). `None` for a
    /// non-ASCII token, which a row filter cannot rule out.
    pub ascii_lowercase: Option<Box<[u8]>>,
}

impl RequiredToken {
    /// The requirement of `token`.
    pub fn new(token: &[u8]) -> RequiredToken {
        RequiredToken {
            hash: fold_token_hash(token),
            ascii_lowercase: token
                .is_ascii()
                .then(|| token.to_ascii_lowercase().into_boxed_slice()),
        }
    }
}

/// A necessary condition on the tokens of a block of records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenQuery {
    /// No condition: every block may hold matches.
    Everything,
    /// The block must contain this token.
    Token(RequiredToken),
    /// Every condition must hold.
    All(Vec<TokenQuery>),
    /// At least one condition must hold.
    Any(Vec<TokenQuery>),
}

impl TokenQuery {
    /// The condition that every token of `tokens` is present (`Everything` for none).
    pub fn all_tokens<'t>(tokens: impl IntoIterator<Item = &'t [u8]>) -> TokenQuery {
        let mut required: Vec<TokenQuery> = tokens
            .into_iter()
            .map(|token| TokenQuery::Token(RequiredToken::new(token)))
            .collect();
        match required.len() {
            0 => TokenQuery::Everything,
            1 => required.remove(0),
            _ => TokenQuery::All(required),
        }
    }

    /// Whether a block whose tokens satisfy `contains` may hold a match.
    pub fn admits(&self, contains: &impl Fn(u64) -> bool) -> bool {
        match self {
            TokenQuery::Everything => true,
            TokenQuery::Token(token) => contains(token.hash),
            TokenQuery::All(parts) => parts.iter().all(|part| part.admits(contains)),
            TokenQuery::Any(parts) => parts.iter().any(|part| part.admits(contains)),
        }
    }

    /// Whether the query admits every block (nothing can be skipped).
    pub fn is_everything(&self) -> bool {
        match self {
            TokenQuery::Everything => true,
            TokenQuery::Token(_) => false,
            TokenQuery::All(parts) => parts.iter().all(TokenQuery::is_everything),
            TokenQuery::Any(parts) => parts.iter().any(TokenQuery::is_everything),
        }
    }
}

/// The hash of a token after case folding: ASCII letters lowercased, valid UTF-8 lowercased
/// with `char::to_lowercase`, invalid bytes replaced (as `String::from_utf8_lossy` does).
/// Two tokens the matcher considers equal, in either case mode, always hash equal.
pub fn fold_token_hash(token: &[u8]) -> u64 {
    const INLINE: usize = 64;
    // Most tokens are already folded (lowercase, digits): hash them as they are.
    if token
        .iter()
        .all(|byte| byte.is_ascii() && !byte.is_ascii_uppercase())
    {
        return xxh3_64(token);
    }
    if token.is_ascii() && token.len() <= INLINE {
        let mut folded = [0u8; INLINE];
        for (out, byte) in folded.iter_mut().zip(token) {
            *out = byte.to_ascii_lowercase();
        }
        return xxh3_64(&folded[..token.len()]);
    }
    if token.is_ascii() {
        return xxh3_64(&token.to_ascii_lowercase());
    }
    let folded = String::from_utf8_lossy(token).to_lowercase();
    xxh3_64(folded.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_in_ascii_and_unicode() {
        assert_eq!(fold_token_hash(b"Error"), fold_token_hash(b"ERROR"));
        assert_eq!(
            fold_token_hash("ÉCHEC".as_bytes()),
            fold_token_hash("échec".as_bytes())
        );
        let long = "A".repeat(100);
        assert_eq!(
            fold_token_hash(long.as_bytes()),
            fold_token_hash(long.to_lowercase().as_bytes())
        );
        assert_ne!(fold_token_hash(b"error"), fold_token_hash(b"errors"));
    }

    #[test]
    fn queries_admit_blocks_by_their_tokens() {
        let present = [fold_token_hash(b"get"), fold_token_hash(b"200")];
        let contains = |hash: u64| present.contains(&hash);
        let both = TokenQuery::all_tokens([&b"GET"[..], b"200"]);
        assert!(both.admits(&contains));
        let missing = TokenQuery::all_tokens([&b"GET"[..], b"404"]);
        assert!(!missing.admits(&contains));
        assert!(TokenQuery::Any(vec![missing.clone(), both]).admits(&contains));
        assert!(TokenQuery::all_tokens([]).is_everything());
        assert!(TokenQuery::Any(vec![missing, TokenQuery::Everything]).is_everything());
    }
}
