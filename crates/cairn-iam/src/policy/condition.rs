//! The `Condition` block of a policy statement: operators, keys, and their evaluation against
//! the attributes of one request.
//!
//! A block is `{"<Operator>": {"<key>": value | [values]}}`. Every operator and every key in a
//! block must hold for the statement to apply (AND); a key with several values holds when any
//! value matches (OR). Supported operators: `StringEquals`, `StringNotEquals`,
//! `StringEqualsIgnoreCase`, `StringNotEqualsIgnoreCase`, `StringLike`, `StringNotLike`
//! (wildcards `*` and `?`), `IpAddress`, `NotIpAddress` (CIDRs or single addresses, IPv4 and
//! IPv6), `Bool`. Supported keys (case-insensitive): `acs:SourceIp`, `acs:AccessKeyId`,
//! `acs:MFAPresent` (always false: Cairn has no MFA) and `sts:ExternalId` (trust policies).
//!
//! A key the request does not carry (no source IP, no ExternalId) makes positive operators
//! fail and negated ones (`...Not...`) hold, as in RAM and AWS IAM: an `Allow` conditioned on
//! `IpAddress` never applies without an address, a `Deny` conditioned on `NotIpAddress` always
//! does.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;

use super::pattern::resource_matches;

/// The request attributes conditions are evaluated against.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestContext<'a> {
    /// The client's address (`acs:SourceIp`).
    pub source_ip: Option<IpAddr>,
    /// The AccessKey that signed the request (`acs:AccessKeyId`).
    pub access_key_id: Option<&'a str>,
    /// The ExternalId given to AssumeRole (`sts:ExternalId`).
    pub external_id: Option<&'a str>,
}

/// A condition key Cairn supplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionKey {
    /// `acs:SourceIp`.
    SourceIp,
    /// `acs:AccessKeyId`.
    AccessKeyId,
    /// `acs:MFAPresent`.
    MfaPresent,
    /// `sts:ExternalId`.
    ExternalId,
}

impl ConditionKey {
    const ALL: [(&'static str, ConditionKey); 4] = [
        ("acs:SourceIp", ConditionKey::SourceIp),
        ("acs:AccessKeyId", ConditionKey::AccessKeyId),
        ("acs:MFAPresent", ConditionKey::MfaPresent),
        ("sts:ExternalId", ConditionKey::ExternalId),
    ];

    fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|&(_, key)| key)
    }

    /// The request's value for this key, as text.
    fn value(self, context: &RequestContext<'_>) -> Option<String> {
        match self {
            ConditionKey::SourceIp => context.source_ip.map(|ip| ip.to_canonical().to_string()),
            ConditionKey::AccessKeyId => context.access_key_id.map(str::to_owned),
            ConditionKey::MfaPresent => Some("false".to_owned()),
            ConditionKey::ExternalId => context.external_id.map(str::to_owned),
        }
    }
}

/// A condition operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    IpAddress,
    NotIpAddress,
    Bool,
}

impl Operator {
    const ALL: [(&'static str, Operator); 9] = [
        ("StringEquals", Operator::StringEquals),
        ("StringNotEquals", Operator::StringNotEquals),
        ("StringEqualsIgnoreCase", Operator::StringEqualsIgnoreCase),
        (
            "StringNotEqualsIgnoreCase",
            Operator::StringNotEqualsIgnoreCase,
        ),
        ("StringLike", Operator::StringLike),
        ("StringNotLike", Operator::StringNotLike),
        ("IpAddress", Operator::IpAddress),
        ("NotIpAddress", Operator::NotIpAddress),
        ("Bool", Operator::Bool),
    ];

    fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == text)
            .map(|&(_, op)| op)
    }

    fn is_negated(self) -> bool {
        matches!(
            self,
            Operator::StringNotEquals
                | Operator::StringNotEqualsIgnoreCase
                | Operator::StringNotLike
                | Operator::NotIpAddress
        )
    }
}

/// One `operator: {key: values}` test, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Test {
    operator: Operator,
    key: ConditionKey,
    values: Vec<String>,
    networks: Vec<IpNet>,
}

impl Test {
    fn holds(&self, context: &RequestContext<'_>) -> bool {
        let Some(actual) = self.key.value(context) else {
            return self.operator.is_negated();
        };
        let any = |test: &dyn Fn(&str) -> bool| self.values.iter().any(|v| test(v));
        match self.operator {
            Operator::StringEquals | Operator::Bool => any(&|v| v == actual),
            Operator::StringNotEquals => !any(&|v| v == actual),
            Operator::StringEqualsIgnoreCase => any(&|v| v.to_lowercase() == actual.to_lowercase()),
            Operator::StringNotEqualsIgnoreCase => {
                !any(&|v| v.to_lowercase() == actual.to_lowercase())
            }
            Operator::StringLike => any(&|v| resource_matches(v, &actual)),
            Operator::StringNotLike => !any(&|v| resource_matches(v, &actual)),
            Operator::IpAddress | Operator::NotIpAddress => {
                let inside = actual
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| self.networks.iter().any(|net| net.contains(&ip)));
                inside == (self.operator == Operator::IpAddress)
            }
        }
    }
}

/// A statement's validated condition block: every test must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Condition {
    tests: Vec<Test>,
}

/// The raw JSON shape of a condition block.
pub type RawCondition = BTreeMap<String, BTreeMap<String, Value>>;

impl Condition {
    /// Validates a raw condition block; the error says what is wrong in words a policy author
    /// can act on.
    pub fn validate(raw: &RawCondition) -> Result<Self, String> {
        let mut tests = Vec::new();
        for (operator_text, keys) in raw {
            let operator = Operator::parse(operator_text).ok_or_else(|| {
                let known: Vec<&str> = Operator::ALL.iter().map(|(name, _)| *name).collect();
                format!(
                    "unsupported condition operator {operator_text:?}; supported: {}",
                    known.join(", ")
                )
            })?;
            if keys.is_empty() {
                return Err(format!("condition operator {operator_text} names no key"));
            }
            for (key_text, value) in keys {
                tests.push(validate_test(operator, operator_text, key_text, value)?);
            }
        }
        Ok(Self { tests })
    }

    /// Whether every test holds for the request.
    pub fn holds(&self, context: &RequestContext<'_>) -> bool {
        self.tests.iter().all(|test| test.holds(context))
    }

    /// Whether the block tests `key` (used to explain trust policy refusals).
    pub fn tests_key(&self, key: ConditionKey) -> bool {
        self.tests.iter().any(|test| test.key == key)
    }
}

fn validate_test(
    operator: Operator,
    operator_text: &str,
    key_text: &str,
    value: &Value,
) -> Result<Test, String> {
    let key = ConditionKey::parse(key_text).ok_or_else(|| {
        let known: Vec<&str> = ConditionKey::ALL.iter().map(|(name, _)| *name).collect();
        format!(
            "unsupported condition key {key_text:?}; supported: {}",
            known.join(", ")
        )
    })?;
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    if items.is_empty() {
        return Err(format!(
            "condition {operator_text} on {key_text} has no value"
        ));
    }
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        let text = match (operator, item) {
            (Operator::Bool, Value::Bool(flag)) => flag.to_string(),
            (Operator::Bool, Value::String(text)) if text == "true" || text == "false" => {
                text.clone()
            }
            (Operator::Bool, _) => {
                return Err(format!(
                    "condition Bool on {key_text} takes true or false, not {item}"
                ))
            }
            (_, Value::String(text)) => text.clone(),
            _ => {
                return Err(format!(
                    "condition {operator_text} on {key_text} takes strings, not {item}"
                ))
            }
        };
        values.push(text);
    }
    let mut networks = Vec::new();
    if matches!(operator, Operator::IpAddress | Operator::NotIpAddress) {
        if key != ConditionKey::SourceIp {
            return Err(format!(
                "condition {operator_text} applies to acs:SourceIp only, not {key_text}"
            ));
        }
        for text in &values {
            networks.push(parse_network(text).ok_or_else(|| {
                format!("{text:?} in condition {operator_text} is not an IP address or CIDR block")
            })?);
        }
    }
    Ok(Test {
        operator,
        key,
        values,
        networks,
    })
}

/// A CIDR block (`10.0.0.0/8`, `2001:db8::/32`) or a single address (a /32 or /128 block).
fn parse_network(text: &str) -> Option<IpNet> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Some(net.trunc());
    }
    text.parse::<IpAddr>().ok().map(IpNet::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(json: &str) -> Result<Condition, String> {
        let raw: RawCondition = serde_json::from_str(json).expect("raw condition JSON");
        Condition::validate(&raw)
    }

    fn from_ip(ip: &str) -> RequestContext<'static> {
        RequestContext {
            source_ip: Some(ip.parse().expect("ip")),
            ..RequestContext::default()
        }
    }

    #[test]
    fn source_ip_in_and_out_of_cidr() {
        let inside = condition(r#"{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","192.168.1.7"]}}"#)
            .expect("valid");
        assert!(inside.holds(&from_ip("10.1.2.3")));
        assert!(inside.holds(&from_ip("192.168.1.7")));
        assert!(!inside.holds(&from_ip("192.168.1.8")));
        assert!(!inside.holds(&from_ip("11.0.0.1")));
        // IPv4-mapped IPv6 addresses count as their IPv4 address.
        assert!(inside.holds(&from_ip("::ffff:10.9.9.9")));
        assert!(
            !inside.holds(&RequestContext::default()),
            "no address: fails"
        );

        let outside =
            condition(r#"{"NotIpAddress":{"acs:SourceIp":"10.0.0.0/8"}}"#).expect("valid");
        assert!(!outside.holds(&from_ip("10.1.2.3")));
        assert!(outside.holds(&from_ip("172.16.0.1")));
        assert!(
            outside.holds(&RequestContext::default()),
            "no address: negated holds"
        );

        let v6 = condition(r#"{"IpAddress":{"acs:sourceip":"2001:db8::/32"}}"#).expect("valid");
        assert!(v6.holds(&from_ip("2001:db8::1")));
        assert!(!v6.holds(&from_ip("2001:db9::1")));
    }

    #[test]
    fn string_operators() {
        let context = RequestContext {
            external_id: Some("abc-123"),
            access_key_id: Some("LTAIabcdefgh"),
            ..RequestContext::default()
        };
        let cases = [
            (r#"{"StringEquals":{"sts:ExternalId":"abc-123"}}"#, true),
            (
                r#"{"StringEquals":{"sts:ExternalId":["x","abc-123"]}}"#,
                true,
            ),
            (r#"{"StringEquals":{"sts:ExternalId":"ABC-123"}}"#, false),
            (
                r#"{"StringEqualsIgnoreCase":{"sts:ExternalId":"ABC-123"}}"#,
                true,
            ),
            (r#"{"StringNotEquals":{"sts:ExternalId":"abc-123"}}"#, false),
            (
                r#"{"StringNotEqualsIgnoreCase":{"sts:ExternalId":"ABC-123"}}"#,
                false,
            ),
            (r#"{"StringLike":{"acs:AccessKeyId":"LTAI*"}}"#, true),
            (r#"{"StringNotLike":{"acs:AccessKeyId":"STS.*"}}"#, true),
            (r#"{"Bool":{"acs:MFAPresent":"true"}}"#, false),
            (r#"{"Bool":{"acs:MFAPresent":false}}"#, true),
            // Every operator and key must hold.
            (
                r#"{"StringEquals":{"sts:ExternalId":"abc-123"},"StringLike":{"acs:AccessKeyId":"STS.*"}}"#,
                false,
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(
                condition(json).expect(json).holds(&context),
                expected,
                "{json}"
            );
        }
        let missing = condition(r#"{"StringEquals":{"sts:ExternalId":"abc-123"}}"#).expect("ok");
        assert!(!missing.holds(&RequestContext::default()));
    }

    #[test]
    fn invalid_conditions_are_explained() {
        let cases = [
            (
                r#"{"NumericLessThan":{"acs:SourceIp":"1"}}"#,
                "unsupported condition operator",
            ),
            (
                r#"{"StringEquals":{"acs:CurrentTime":"x"}}"#,
                "unsupported condition key",
            ),
            (
                r#"{"IpAddress":{"acs:SourceIp":"10.0.0.0/33"}}"#,
                "not an IP address or CIDR",
            ),
            (
                r#"{"IpAddress":{"acs:SourceIp":"example.com"}}"#,
                "not an IP address or CIDR",
            ),
            (
                r#"{"IpAddress":{"sts:ExternalId":"10.0.0.0/8"}}"#,
                "applies to acs:SourceIp only",
            ),
            (
                r#"{"Bool":{"acs:MFAPresent":"yes"}}"#,
                "takes true or false",
            ),
            (r#"{"StringEquals":{"sts:ExternalId":7}}"#, "takes strings"),
            (r#"{"StringEquals":{"sts:ExternalId":[]}}"#, "has no value"),
            (r#"{"StringEquals":{}}"#, "names no key"),
        ];
        for (json, expected) in cases {
            let err = condition(json).expect_err(json);
            assert!(err.contains(expected), "{json}: {err}");
        }
    }
}
