//! Units: what one raw value means ([`ValueUnit`]), what the graph shows ([`DisplayUnit`]),
//! and SI formatting of the figures.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::model::Method;

/// What one raw source value means. Providers differ, so the user says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValueUnit {
    /// `octets-per-period` when the series was consolidated with `sum`, otherwise
    /// `bytes-per-second`.
    Auto,
    /// `bits-per-second`: a rate in bits per second.
    BitsPerSecond,
    /// `bytes-per-second`: a rate in bytes (octets) per second.
    BytesPerSecond,
    /// Octets transferred during the data set's period (an hour or a day).
    OctetsPerPeriod,
    /// Bits transferred during the data set's period.
    BitsPerPeriod,
}

impl ValueUnit {
    /// Resolves `Auto` for a series consolidated with `method`.
    pub fn resolve(self, method: Option<Method>) -> ValueUnit {
        match (self, method) {
            (ValueUnit::Auto, Some(Method::Sum)) => ValueUnit::OctetsPerPeriod,
            (ValueUnit::Auto, _) => ValueUnit::BytesPerSecond,
            (u, _) => u,
        }
    }

    /// Factor turning one raw value into bytes per second, for data sets `step` seconds long.
    pub fn bytes_per_second_factor(self, step: i64) -> f64 {
        let step = step.max(1) as f64;
        match self {
            ValueUnit::Auto | ValueUnit::BytesPerSecond => 1.0,
            ValueUnit::BitsPerSecond => 1.0 / 8.0,
            ValueUnit::OctetsPerPeriod => 1.0 / step,
            ValueUnit::BitsPerPeriod => 1.0 / (8.0 * step),
        }
    }
}

impl FromStr for ValueUnit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auto" => ValueUnit::Auto,
            "bits-per-second" | "bps" | "bit/s" => ValueUnit::BitsPerSecond,
            "bytes-per-second" | "Bps" | "B/s" => ValueUnit::BytesPerSecond,
            "octets-per-period" | "bytes-per-period" => ValueUnit::OctetsPerPeriod,
            "bits-per-period" => ValueUnit::BitsPerPeriod,
            other => {
                return Err(format!(
                    "unknown value unit '{other}' (expected auto, bits-per-second, \
                     bytes-per-second, octets-per-period or bits-per-period)"
                ))
            }
        })
    }
}

/// What the y axis and the rate figures are shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DisplayUnit {
    /// Bits per second (the default; what links are sold in).
    #[default]
    Bits,
    /// Bytes per second.
    Bytes,
}

impl DisplayUnit {
    /// Factor from bytes per second to this unit per second.
    pub fn from_bytes_per_second(self) -> f64 {
        match self {
            DisplayUnit::Bits => 8.0,
            DisplayUnit::Bytes => 1.0,
        }
    }

    /// The rate suffix: `b/s` or `B/s`.
    pub fn rate_suffix(self) -> &'static str {
        match self {
            DisplayUnit::Bits => "b/s",
            DisplayUnit::Bytes => "B/s",
        }
    }

    /// `bits/s` or `bytes/s`, as figures and `--stats json` name the unit.
    pub fn as_str(self) -> &'static str {
        match self {
            DisplayUnit::Bits => "bits/s",
            DisplayUnit::Bytes => "bytes/s",
        }
    }
}

impl FromStr for DisplayUnit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bits" | "bit" | "b" => Ok(DisplayUnit::Bits),
            "bytes" | "byte" | "B" => Ok(DisplayUnit::Bytes),
            other => Err(format!("unknown unit '{other}' (expected bits or bytes)")),
        }
    }
}

impl fmt::Display for DisplayUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const PREFIXES: [&str; 7] = ["", "k", "M", "G", "T", "P", "E"];

/// Splits `value` into a mantissa in [1, 1000) and an SI prefix (decimal, as network
/// rates are quoted).
pub fn si_split(value: f64) -> (f64, &'static str) {
    let mut v = value;
    let mut i = 0;
    while v.abs() >= 1000.0 && i < PREFIXES.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    (v, PREFIXES[i])
}

/// `123.4 Mb/s`-style text with three significant digits.
pub fn format_si(value: f64, suffix: &str) -> String {
    if !value.is_finite() {
        return format!("- {suffix}");
    }
    let (m, p) = si_split(value);
    let digits = if m.abs() >= 100.0 {
        0
    } else if m.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{m:.digits$} {p}{suffix}")
}

/// Axis label text: as short as the tick step allows (`200 M`, `1.5 G`).
pub fn format_si_axis(value: f64, step: f64, suffix: &str) -> String {
    if value == 0.0 {
        return format!("0 {suffix}");
    }
    let (_, p) = si_split(value.abs().max(step.abs()));
    let scale = 1000f64.powi(PREFIXES.iter().position(|x| *x == p).unwrap_or(0) as i32);
    let m = value / scale;
    let s = step / scale;
    let digits = if s >= 1.0 || s <= 0.0 {
        0
    } else {
        (-s.log10()).ceil().clamp(0.0, 3.0) as usize
    };
    format!("{m:.digits$} {p}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn si_formatting() {
        assert_eq!(format_si(755_200_000.0, "b/s"), "755 Mb/s");
        assert_eq!(format_si(1_234.0, "b/s"), "1.23 kb/s");
        assert_eq!(format_si(12.0, "B"), "12.0 B");
        assert_eq!(format_si_axis(1_500_000.0, 500_000.0, "b/s"), "1.5 Mb/s");
        assert_eq!(
            format_si_axis(200_000_000.0, 100_000_000.0, "b/s"),
            "200 Mb/s"
        );
    }

    #[test]
    fn conversion_factors() {
        assert_eq!(
            ValueUnit::OctetsPerPeriod.bytes_per_second_factor(3600),
            1.0 / 3600.0
        );
        assert_eq!(
            ValueUnit::BitsPerSecond.bytes_per_second_factor(3600),
            0.125
        );
        assert_eq!(
            ValueUnit::Auto.resolve(Some(Method::Sum)),
            ValueUnit::OctetsPerPeriod
        );
        assert_eq!(
            ValueUnit::Auto.resolve(Some(Method::Avg)),
            ValueUnit::BytesPerSecond
        );
    }
}
