//! [`Username`]: what a name may be, so that no name can pass for someone
//! else's or for a page of the site.

use std::fmt;

use serde::Serialize;
use unicode_normalization::UnicodeNormalization as _;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};

use crate::Error;

/// Longest accepted username, in Unicode scalar values (characters), after
/// normalization.
pub const MAX_USERNAME_CHARS: usize = 100;

/// Names that are the first segment of a path the site or the API serves
/// (compared ignoring case): a user with one of them would have a timeline
/// page that the site's own page shadows, or that passes for it.
pub const RESERVED_USERNAMES: &[&str] = &[
    "public",
    "login",
    "logout",
    "register",
    "add_message",
    "static",
    "avatar",
    "favicon.svg",
    "favicon.ico",
    "health",
    "metrics",
    "admin",
    "api",
    "openapi.json",
    "robots.txt",
];

/// A username: 1 to [`MAX_USERNAME_CHARS`] characters, any Unicode (spaces
/// included) except control characters and invisible formatting characters
/// (Unicode category Cf: bidirectional overrides, zero-width characters),
/// not only dots, and not the name of a page ([`RESERVED_USERNAMES`]).
///
/// Names are kept in Unicode normalization form C, so a decomposed spelling
/// (`A` + combining ring) and a composed one (`Å`) are one name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Validates `raw` as the name of a new user, in normalization form C.
    ///
    /// # Errors
    /// [`Error::MissingUsername`] when empty, [`Error::UsernameTooLong`],
    /// [`Error::UsernameInvalid`] (control characters),
    /// [`Error::UsernameInvisible`] (formatting characters),
    /// [`Error::UsernameReserved`] (a page's name, or only dots).
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let normalized = normalize(raw);
        let name = Self::from_stored(&normalized)?;
        if normalized
            .chars()
            .any(|c| c.general_category() == GeneralCategory::Format)
        {
            return Err(Error::UsernameInvisible);
        }
        if normalized.chars().all(|c| c == '.') || is_reserved(&normalized) {
            return Err(Error::UsernameReserved);
        }
        Ok(name)
    }

    /// A username read back from a store or a backup. It is checked only
    /// for what every username ever accepted has (1 to
    /// [`MAX_USERNAME_CHARS`] characters, no control characters), so data
    /// written under older rules still reads; it is kept as it was stored.
    ///
    /// # Errors
    /// As [`parse`](Self::parse), for those checks.
    pub fn from_stored(raw: &str) -> Result<Self, Error> {
        if raw.is_empty() {
            return Err(Error::MissingUsername);
        }
        if raw.chars().count() > MAX_USERNAME_CHARS {
            return Err(Error::UsernameTooLong);
        }
        if raw.chars().any(char::is_control) {
            return Err(Error::UsernameInvalid);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The username as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `raw` in Unicode normalization form C: how names are stored and looked
/// up.
pub fn normalize(raw: &str) -> String {
    raw.nfc().collect()
}

/// Whether `name` is a page's name (see [`RESERVED_USERNAMES`]).
fn is_reserved(name: &str) -> bool {
    RESERVED_USERNAMES
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(name))
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &str) -> Option<String> {
        Username::parse(raw).map(|name| name.to_string()).ok()
    }

    #[test]
    fn usernames_take_spaces_and_any_unicode() {
        for name in [
            "Roger Histand",
            "Zoë Ångström",
            "李小龍",
            "a",
            "🦀 crab",
            "a.b",
            "..x",
        ] {
            assert_eq!(parsed(name), Some(name.to_owned()));
        }
    }

    #[test]
    fn usernames_are_bounded() {
        assert!(matches!(Username::parse(""), Err(Error::MissingUsername)));
        let longest = "é".repeat(MAX_USERNAME_CHARS);
        assert!(Username::parse(&longest).is_ok());
        assert!(matches!(
            Username::parse(&format!("{longest}x")),
            Err(Error::UsernameTooLong)
        ));
        // Counted after normalization: 100 decomposed é are 100 characters.
        assert!(Username::parse(&"e\u{301}".repeat(MAX_USERNAME_CHARS)).is_ok());
        for invalid in ["tab\there", "line\nbreak"] {
            assert!(matches!(
                Username::parse(invalid),
                Err(Error::UsernameInvalid)
            ));
        }
    }

    #[test]
    fn decomposed_names_are_the_composed_ones() {
        assert_eq!(parsed("A\u{30a}sa"), Some("Åsa".to_owned()));
        assert_eq!(
            Username::parse("A\u{30a}sa").ok(),
            Username::parse("Åsa").ok()
        );
        assert_eq!(normalize("Zoe\u{308}"), "Zoë");
    }

    #[test]
    fn names_that_deceive_are_refused() {
        for reserved in [
            "public",
            "Login",
            "LOGOUT",
            "register",
            "add_message",
            "metrics",
            "api",
        ] {
            assert!(
                matches!(Username::parse(reserved), Err(Error::UsernameReserved)),
                "{reserved:?}"
            );
        }
        for dots in [".", "..", "...."] {
            assert!(matches!(
                Username::parse(dots),
                Err(Error::UsernameReserved)
            ));
        }
        for invisible in [
            "admin\u{202e}nimda",
            "zero\u{200b}width",
            "joiner\u{200d}",
            "\u{feff}bom",
            "soft\u{ad}hyphen",
            "isolate\u{2066}x\u{2069}",
        ] {
            assert!(
                matches!(Username::parse(invisible), Err(Error::UsernameInvisible)),
                "{invisible:?}"
            );
        }
    }

    #[test]
    fn stored_names_read_under_the_older_rules() {
        for old in ["public", "..", "zero\u{200b}width", "Zoe\u{308}"] {
            assert_eq!(
                Username::from_stored(old).map(|name| name.to_string()).ok(),
                Some(old.to_owned())
            );
        }
    }
}
