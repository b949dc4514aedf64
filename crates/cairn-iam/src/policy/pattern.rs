//! Wildcard patterns of policy statements: `*` matches any run of characters (also none, also
//! `:` and `/`), `?` exactly one character; everything else matches itself.
//!
//! Actions match case-insensitively (`log:get*` matches `log:GetLogStoreLogs`, as in RAM),
//! resources case-sensitively. Matching is the classic greedy two-pointer algorithm with
//! backtracking to the last `*`: O(pattern × text) at worst, no recursion, no allocation, so a
//! hostile pattern within the document size limit cannot make evaluation expensive.

/// Whether `text` matches `pattern`, comparing characters with `same`.
fn matches_with(pattern: &str, text: &str, same: impl Fn(char, char) -> bool) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was in the pattern, and the text position it currently covers up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || same(c, text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and retry after it.
                Some((star_p, star_t)) => {
                    star = Some((star_p, star_t + 1));
                    p = star_p + 1;
                    t = star_t + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Whether an action name matches an action pattern, ignoring ASCII case.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    matches_with(pattern, action, |a, b| a.eq_ignore_ascii_case(&b))
}

/// Whether a resource ARN (or any case-sensitive value) matches a pattern.
pub fn resource_matches(pattern: &str, resource: &str) -> bool {
    matches_with(pattern, resource, |a, b| a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_table() {
        // (pattern, text, action match (case-insensitive), resource match (case-sensitive))
        let table: &[(&str, &str, bool, bool)] = &[
            ("*", "", true, true),
            ("*", "log:GetLogStoreLogs", true, true),
            ("log:*", "log:PostLogStoreLogs", true, true),
            ("log:Get*", "log:GetLogStoreLogs", true, true),
            ("log:get*", "log:GetLogStoreLogs", true, false),
            ("LOG:GETLOGSTORELOGS", "log:GetLogStoreLogs", true, false),
            ("log:Get*", "log:PostLogStoreLogs", false, false),
            ("log:Get*", "ram:GetUser", false, false),
            ("log:Get", "log:GetLogStoreLogs", false, false),
            ("log:GetLogStoreLogs", "log:GetLogStoreLogs", true, true),
            ("log:?etProject", "log:GetProject", true, true),
            ("log:?etProject", "log:etProject", false, false),
            ("log:*Logs", "log:GetLogStoreLogs", true, true),
            ("log:*Store*", "log:CreateLogStore", true, true),
            ("*:*", "sts:AssumeRole", true, true),
            ("a*b*c", "aXbYbZc", true, true),
            ("a*b*c", "aXbYbZ", false, false),
            ("**", "anything", true, true),
            ("a?", "a", false, false),
            (
                "acs:log:*:*:project/web/*",
                "acs:log:cairn:1234567890123456:project/web/logstore/app",
                true,
                true,
            ),
            (
                "acs:log:*:*:project/web/*",
                "acs:log:cairn:1234567890123456:project/web",
                false,
                false,
            ),
            (
                "acs:log:*:*:project/web*",
                "acs:log:cairn:1234567890123456:project/web",
                true,
                true,
            ),
            (
                "acs:log:*:*:project/*/logstore/actiontrail_*",
                "acs:log:cairn:1234567890123456:project/p/logstore/actiontrail_main",
                true,
                true,
            ),
            (
                "acs:log:*:*:project/*/logstore/actiontrail_*",
                "acs:log:cairn:1234567890123456:project/p/logstore/app",
                false,
                false,
            ),
            (
                "acs:log:*:*:project/Web/*",
                "acs:log:cairn:1234567890123456:project/web/logstore/app",
                true,
                false,
            ),
            (
                "acs:ram:*:*:role/*",
                "acs:ram::1234567890123456:role/reader",
                true,
                true,
            ),
        ];
        for &(pattern, text, action, resource) in table {
            assert_eq!(
                action_matches(pattern, text),
                action,
                "action {pattern} ~ {text}"
            );
            assert_eq!(
                resource_matches(pattern, text),
                resource,
                "resource {pattern} ~ {text}"
            );
        }
    }

    #[test]
    fn many_stars_stay_cheap() {
        let pattern = format!("{}b", "a*".repeat(2000));
        let text = "a".repeat(3000);
        assert!(!resource_matches(&pattern, &text));
    }
}
