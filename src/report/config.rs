//! The report configuration file (TOML): defaults, targets and pools. Parsed strictly
//! (unknown keys are errors, so a typo is not silently ignored) and validated as a whole
//! before any request is made. `fixtures/report.toml` is the commented example.

use std::collections::HashSet;
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::model::{Method, Period, Scope};
use crate::render::Theme;
use crate::report::ranges::RangeName;
use crate::stats::PercentileOf;
use crate::units::{DisplayUnit, ValueUnit};
use crate::zone::Zone;

/// More targets than this is a mistake (or hostile input), not a report.
pub const MAX_TARGETS: usize = 10_000;

/// Why a configuration was refused; the message names the file and line when it can.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// The configuration file, as given.
    pub path: String,
    /// What is wrong, with the line when the TOML parser knows it.
    pub message: String,
}

/// What is wrong with a configuration's text (before the file's path is put in front).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidConfig {
    /// Not TOML, or not our keys and values; `line` when the parser knows it.
    #[error("{}", with_line(*.line, .message))]
    Toml {
        /// The line, 1-based, when the parser knows it.
        line: Option<usize>,
        /// The parser's words.
        message: String,
    },
    /// No `[[target]]` at all.
    #[error("no [[target]] entries")]
    NoTargets,
    /// More than [`MAX_TARGETS`] targets.
    #[error("{0} targets; at most {MAX_TARGETS} in one report")]
    TooManyTargets(usize),
    /// A target whose name is blank.
    #[error("a target has an empty name")]
    EmptyName,
    /// Two targets of one name.
    #[error("target name '{0}' appears twice")]
    DuplicateTarget(String),
    /// A pool named like a target or another pool.
    #[error("pool name '{0}' is already used")]
    DuplicatePool(String),
    /// A pool without members.
    #[error("pool '{0}' lists no targets")]
    EmptyPool(String),
    /// A pool member that is no target.
    #[error("pool '{pool}' names unknown target '{target}'")]
    UnknownMember {
        /// The pool.
        pool: String,
        /// The name it lists.
        target: String,
    },
    /// A target with keys of a source other than its own.
    #[error(
        "target '{target}' mixes keys of several sources; its source is {kind:?} (set \
         `source = \"softlayer\"` or `\"cloudwatch\"` for theirs)"
    )]
    MixedSources {
        /// The target.
        target: String,
        /// Its source.
        kind: SourceName,
    },
    /// A Hostway target without IPs.
    #[error("target '{0}' lists no ips")]
    NoIps(String),
    /// A Hostway target without a base URL (of its own or the defaults').
    #[error("target '{0}' has no base_url (set it in [defaults] or on the target)")]
    NoBaseUrl(String),
    /// A SoftLayer target without `hardware_id`.
    #[error("target '{0}' (softlayer) needs hardware_id")]
    NoHardwareId(String),
    /// A SoftLayer `network` other than public or private.
    #[error("target '{0}': network must be \"public\" or \"private\"")]
    BadNetwork(String),
    /// A CloudWatch target without `instance_id`.
    #[error("target '{0}' (cloudwatch) needs instance_id")]
    NoInstanceId(String),
}

fn with_line(line: Option<usize>, message: &str) -> String {
    match line {
        Some(l) => format!("line {l}: {message}"),
        None => message.to_string(),
    }
}

/// A whole report configuration: `[defaults]`, `[[target]]`s and `[[pool]]`s, validated.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[defaults]`: settings every target shares.
    #[serde(default)]
    pub defaults: Defaults,
    /// `[[target]]`: one graph each, in file order (names unique).
    #[serde(default, rename = "target")]
    pub targets: Vec<TargetConfig>,
    /// `[[pool]]`: sums of targets, one graph each.
    #[serde(default, rename = "pool")]
    pub pools: Vec<PoolConfig>,
}

/// Settings every target shares unless it overrides them.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Defaults {
    /// Root of the Hostway-style API; a target's `base_url` overrides it.
    pub base_url: Option<String>,
    /// Name of the environment variable holding the `Authorization` header value.
    pub auth_env: String,
    /// `hourly` or `daily` data sets.
    pub period: Period,
    /// `avg`, `sum`, `min` or `max`: how the server consolidates a period.
    pub method: Method,
    /// `receive`, `transmit`, `total` or `both` (receive and transmit).
    #[serde(deserialize_with = "scopes")]
    pub scope: Vec<Scope>,
    /// Which days the report covers (`previous_calendar_month` unless set).
    pub range: RangeName,
    /// The day of the month billing cycles start on (the `*_billing_cycle` ranges need it).
    pub billing_day: Option<u32>,
    /// `specified_day`'s date or `specified_range`'s start.
    #[serde(deserialize_with = "opt_date")]
    pub date: Option<NaiveDate>,
    /// `specified_range`'s last day (inclusive).
    #[serde(deserialize_with = "opt_date")]
    pub end_date: Option<NaiveDate>,
    /// `UTC`, `+HHMM` or an IANA name: the zone of "today" and of the time axis.
    #[serde(deserialize_with = "parsed")]
    pub timezone: Zone,
    /// `bits` or `bytes` (per second) on the axis and in the figures.
    #[serde(deserialize_with = "parsed")]
    pub unit: DisplayUnit,
    /// What the raw values are: `auto`, `bits-per-second`, `bytes-per-second`,
    /// `octets-per-period` or `bits-per-period`.
    #[serde(deserialize_with = "parsed")]
    pub value_unit: ValueUnit,
    /// Graph width in pixels.
    pub width: u32,
    /// Graph height in pixels.
    pub height: u32,
    /// `light` or `dark`.
    #[serde(deserialize_with = "parsed")]
    pub theme: Theme,
    /// The percentile drawn and reported (95 unless set).
    pub percentile: f64,
    /// Which series the percentile is taken of: `receive`, `transmit`, `max` or `sum`.
    #[serde(deserialize_with = "parsed")]
    pub percentile_of: PercentileOf,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            base_url: None,
            auth_env: "TRAFFICGRAPH_AUTH".into(),
            period: Period::Hourly,
            method: Method::Avg,
            scope: vec![Scope::Receive, Scope::Transmit],
            range: RangeName::PreviousCalendarMonth,
            billing_day: None,
            date: None,
            end_date: None,
            timezone: Zone::UTC,
            unit: DisplayUnit::Bits,
            value_unit: ValueUnit::Auto,
            width: 827,
            height: 273,
            theme: Theme::Light,
            percentile: 95.0,
            percentile_of: PercentileOf::Max,
        }
    }
}

/// A value read from its text with the type's own `FromStr`, so a config is checked by
/// the same rules, with the same words, as the flags; serde puts the line in front.
fn parsed<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

/// `scope`: one of the scopes, or `both` (receive and transmit).
fn scopes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Scope>, D::Error> {
    use crate::model::Named;
    let text = String::deserialize(d)?;
    if text == "both" {
        return Ok(vec![Scope::Receive, Scope::Transmit]);
    }
    Scope::from_name(&text).map(|s| vec![s]).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "unknown scope '{text}' (expected receive, transmit, total or both)"
        ))
    })
}

/// A date as TOML writes it (`date = 2026-10-01`) or as a string (`"2026-10-01"`).
fn opt_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Toml(toml::value::Datetime),
        Text(String),
    }
    let text = match Raw::deserialize(d)? {
        Raw::Toml(t) => t.to_string(),
        Raw::Text(s) => s,
    };
    crate::range::parse_date(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// One server: its raw data fetched (a Hostway server's IPs summed) into one graph.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Unique among targets and pools; names the target's files and summary row.
    pub name: String,
    /// Whose raw data: `hostway` (the default), `softlayer` or `cloudwatch`.
    #[serde(default)]
    pub source: SourceName,
    /// Hostway: account, server and IPs.
    #[serde(default)]
    pub account: String,
    /// Hostway dedicated server id.
    #[serde(default)]
    pub server: String,
    /// Hostway IPs, fetched and summed into one series per scope.
    #[serde(default)]
    pub ips: Vec<String>,
    /// Overrides `defaults.base_url` (Hostway).
    pub base_url: Option<String>,
    /// SoftLayer: the hardware server and its network (`public` or `private`).
    pub hardware_id: Option<u64>,
    /// `public` (the default) or `private`.
    pub network: Option<String>,
    /// CloudWatch: the EC2 instance, its region (default `AWS_REGION`) and the seconds
    /// per data point (default 300).
    pub instance_id: Option<String>,
    /// AWS region (default `AWS_REGION`).
    pub region: Option<String>,
    /// Seconds per CloudWatch data point (default 300).
    pub cw_period: Option<u32>,
    /// SoftLayer or CloudWatch endpoint (default the provider's public one).
    pub endpoint: Option<String>,
    /// Provider image to use when raw data cannot be fetched.
    pub fallback: Option<FallbackConfig>,
}

/// `source` of a target.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SourceName {
    /// The Hostway-style API (`account`, `server`, `ips`).
    #[default]
    Hostway,
    /// SoftLayer `getBandwidthData` (`hardware_id`, `network`).
    Softlayer,
    /// CloudWatch `GetMetricStatistics` (`instance_id`, `region`, `cw_period`).
    Cloudwatch,
}

/// Where to get a provider-drawn graph for a target.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "provider", rename_all = "lowercase", deny_unknown_fields)]
pub enum FallbackConfig {
    /// SoftLayer's bandwidth graph of a hardware server.
    Softlayer {
        /// The hardware (server) id.
        hardware_id: u64,
        /// API endpoint (default SoftLayer's public one).
        #[serde(default)]
        endpoint: Option<String>,
        /// Graph the private network instead of the public one.
        #[serde(default)]
        private: bool,
    },
    /// CloudWatch's metric widget image of an EC2 instance.
    Cloudwatch {
        /// The EC2 instance id.
        instance_id: String,
        /// AWS region (default `AWS_REGION`).
        #[serde(default)]
        region: Option<String>,
        /// API endpoint (default the region's public one).
        #[serde(default)]
        endpoint: Option<String>,
    },
}

/// Several targets summed into one graph.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// Unique among targets and pools; names the pool's files and summary row.
    pub name: String,
    /// Names of the targets summed (each must be a `[[target]]`).
    pub targets: Vec<String>,
}

impl TargetConfig {
    /// The keys this target's source needs are there, and no other source's.
    fn validate(&self, default_base_url: bool) -> Result<(), InvalidConfig> {
        let name = || self.name.clone();
        let hostway = !self.account.is_empty()
            || !self.server.is_empty()
            || !self.ips.is_empty()
            || self.base_url.is_some();
        let softlayer = self.hardware_id.is_some() || self.network.is_some();
        let cloudwatch =
            self.instance_id.is_some() || self.region.is_some() || self.cw_period.is_some();
        let others = match self.source {
            SourceName::Hostway => softlayer || cloudwatch || self.endpoint.is_some(),
            SourceName::Softlayer => hostway || cloudwatch,
            SourceName::Cloudwatch => hostway || softlayer,
        };
        if others {
            return Err(InvalidConfig::MixedSources {
                target: name(),
                kind: self.source,
            });
        }
        match self.source {
            SourceName::Hostway if self.ips.is_empty() => Err(InvalidConfig::NoIps(name())),
            SourceName::Hostway
                if self.base_url.is_none() && !default_base_url && self.fallback.is_none() =>
            {
                Err(InvalidConfig::NoBaseUrl(name()))
            }
            SourceName::Softlayer if self.hardware_id.is_none() => {
                Err(InvalidConfig::NoHardwareId(name()))
            }
            SourceName::Softlayer
                if !matches!(self.network.as_deref(), None | Some("public" | "private")) =>
            {
                Err(InvalidConfig::BadNetwork(name()))
            }
            SourceName::Cloudwatch if self.instance_id.is_none() => {
                Err(InvalidConfig::NoInstanceId(name()))
            }
            _ => Ok(()),
        }
    }
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let err = |message: String| ConfigError {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        Config::parse(&text).map_err(|e| err(e.to_string()))
    }

    /// Parses and validates configuration text; errors name the line.
    pub fn parse(text: &str) -> Result<Config, InvalidConfig> {
        let config: Config = toml::from_str(text).map_err(|e| InvalidConfig::Toml {
            line: e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
            message: e.message().trim().replace('\n', " "),
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), InvalidConfig> {
        if self.targets.is_empty() {
            return Err(InvalidConfig::NoTargets);
        }
        if self.targets.len() > MAX_TARGETS {
            return Err(InvalidConfig::TooManyTargets(self.targets.len()));
        }
        let mut names = HashSet::new();
        for t in &self.targets {
            if t.name.trim().is_empty() {
                return Err(InvalidConfig::EmptyName);
            }
            if !names.insert(t.name.as_str()) {
                return Err(InvalidConfig::DuplicateTarget(t.name.clone()));
            }
            t.validate(self.defaults.base_url.is_some())?;
        }
        for p in &self.pools {
            if !names.insert(p.name.as_str()) {
                return Err(InvalidConfig::DuplicatePool(p.name.clone()));
            }
            if p.targets.is_empty() {
                return Err(InvalidConfig::EmptyPool(p.name.clone()));
            }
            if let Some(missing) = p
                .targets
                .iter()
                .find(|n| !self.targets.iter().any(|t| &t.name == *n))
            {
                return Err(InvalidConfig::UnknownMember {
                    pool: p.name.clone(),
                    target: missing.clone(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
[defaults]
base_url = "http://127.0.0.1:1"
range = "previous_billing_cycle"
billing_day = 15

[[target]]
name = "web-01"
account = "a1"
server = "s1"
ips = ["203.0.113.10", "203.0.113.11"]

[[target]]
name = "db/../01"
account = "a1"
server = "s2"
ips = ["203.0.113.20"]
fallback = { provider = "softlayer", hardware_id = 12345 }

[[pool]]
name = "all"
targets = ["web-01", "db/../01"]
"#;

    #[test]
    fn parses_a_full_config() {
        let c = Config::parse(OK).unwrap();
        assert_eq!(c.targets.len(), 2);
        assert_eq!(c.defaults.range, RangeName::PreviousBillingCycle);
        assert_eq!(c.defaults.period, Period::Hourly);
        assert_eq!(
            c.targets[1].fallback,
            Some(FallbackConfig::Softlayer {
                hardware_id: 12345,
                endpoint: None,
                private: false
            })
        );
    }

    #[test]
    fn typos_and_bad_references_name_the_problem() {
        let parse_err = |text: &str| Config::parse(text).unwrap_err().to_string();
        let e = parse_err(&OK.replace("billing_day", "biling_day"));
        assert!(e.starts_with("line 5: unknown field `biling_day`"), "{e}");
        let e = parse_err(&OK.replace("targets = [\"web-01\"", "targets = [\"web-9\""));
        assert_eq!(e, "pool 'all' names unknown target 'web-9'");
        let e = parse_err(&OK.replace("db/../01", "web-01"));
        assert_eq!(e, "target name 'web-01' appears twice");
        let e = parse_err("[defaults]\nperiod = \"weekly\"\n");
        assert!(e.starts_with("line 2: unknown variant `weekly`"), "{e}");
        let e = parse_err("[defaults]\ndate = 2026-02-30\n");
        assert!(e.starts_with("line 2: "), "{e}");
    }

    #[test]
    fn dates_are_toml_dates_or_strings() {
        let text = OK.replace(
            "billing_day = 15",
            "date = 2026-10-01\nend_date = \"2026-10-31\"",
        );
        let c = Config::parse(&text).unwrap();
        assert_eq!(c.defaults.date, "2026-10-01".parse().ok());
        assert_eq!(c.defaults.end_date, "2026-10-31".parse().ok());
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    #[test]
    fn the_commented_example_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/report.toml");
        let c = Config::load(&path).unwrap();
        assert_eq!(c.targets.len(), 3);
        assert_eq!(c.pools[0].targets, ["web-01", "web-02"]);
        assert_eq!(c.defaults.billing_day, Some(15));
    }
}
