//! [`Secret`]: a credential (an `Authorization` value, an API key, a secret access key).
//! Formatting one, with `{}` or `{:?}`, prints `<redacted>`, so a credential cannot reach a
//! log line, an error message or an output file by accident; only [`Secret::expose`] gives
//! the value, at the one place that sends it.

use std::fmt;

use base64::Engine as _;

/// A credential that formats as `<redacted>` with both `{}` and `{:?}`; read it with
/// [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value` (used as it is: no trimming, no encoding).
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// An HTTP Basic `Authorization` value: `Basic base64(user:password)`.
    pub fn basic(user: &str, password: &Secret) -> Secret {
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("{user}:{}", password.0).as_bytes());
        Secret(format!("Basic {token}"))
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "<redacted> <redacted>");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn basic_auth_is_rfc_7617() {
        // RFC 7617's example: Aladdin / open sesame.
        let b = Secret::basic("Aladdin", &Secret::new("open sesame"));
        assert_eq!(b.expose(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    }
}
