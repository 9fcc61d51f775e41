//! [`Username`]: what a name may be, so that no name can pass for someone
//! else's or for a page of the site.

use std::fmt;

use serde::Serialize;
use unicode_normalization::{IsNormalized, UnicodeNormalization as _, is_nfc_quick};
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
    // Nearly every name arrives in form C already (ASCII always is): the
    // quick check says so in one pass without decomposing and composing,
    // which spares the normalizer on every request that names a user.
    if raw.is_ascii() || is_nfc_quick(raw.chars()) == IsNormalized::Yes {
        return raw.to_owned();
    }
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

/// Properties of [`Username::parse`] over random names: it never panics,
/// it accepts exactly the names the rules allow (checked in their
/// documented order), what it accepts is in NFC and parses again to
/// itself, and a name and its NFC form always get the same answer.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use unicode_normalization::UnicodeNormalization as _;

    use super::*;

    /// Characters that exercise the rules: letters with and without
    /// combining marks, dots, spaces, controls and format characters.
    const TRICKY: &[char] = &[
        'a',
        'Z',
        'å',
        'Å',
        'A',
        'e',
        'é',
        '\u{301}',
        '\u{30a}',
        '\u{308}',
        '.',
        ' ',
        '_',
        '\0',
        '\t',
        '\n',
        '\u{7f}',
        '\u{85}',
        '\u{200b}',
        '\u{200d}',
        '\u{202e}',
        '\u{2066}',
        '\u{feff}',
        '\u{ad}',
        '李',
        '🦀',
        '\u{e0001}',
    ];

    /// Random names: any Unicode, tricky characters, reserved names in
    /// any ASCII case, dot names, and lengths around the limit.
    fn raw_name() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            prop::collection::vec(prop::sample::select(TRICKY), 0..12).prop_map(String::from_iter),
            (prop::sample::select(RESERVED_USERNAMES), any::<u64>()).prop_map(|(name, bits)| {
                name.chars()
                    .enumerate()
                    .map(|(i, c)| {
                        if bits >> (i % 64) & 1 == 1 {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        }
                    })
                    .collect()
            }),
            "\\.{1,5}",
            (
                95usize..106,
                prop::sample::select(&['x', 'é', '\u{301}'][..])
            )
                .prop_map(|(n, c)| std::iter::repeat_n(c, n).collect()),
            "[a-zA-Z0-9 ]{1,20}",
        ]
    }

    /// Which rule a name (already in NFC) breaks first, in the order the
    /// documentation gives; `None` when it breaks none.
    fn first_broken_rule(name: &str) -> Option<&'static str> {
        if name.is_empty() {
            Some("missing")
        } else if name.chars().count() > MAX_USERNAME_CHARS {
            Some("too long")
        } else if name.chars().any(char::is_control) {
            Some("control")
        } else if name
            .chars()
            .any(|c| c.general_category() == GeneralCategory::Format)
        {
            Some("invisible")
        } else if name.chars().all(|c| c == '.')
            || RESERVED_USERNAMES
                .iter()
                .any(|page| page.eq_ignore_ascii_case(name))
        {
            Some("reserved")
        } else {
            None
        }
    }

    fn rule_of(err: &Error) -> &'static str {
        match err {
            Error::MissingUsername => "missing",
            Error::UsernameTooLong => "too long",
            Error::UsernameInvalid => "control",
            Error::UsernameInvisible => "invisible",
            Error::UsernameReserved => "reserved",
            _ => "another error",
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn parse_accepts_exactly_what_the_rules_allow(raw in raw_name()) {
            let nfc = normalize(&raw);
            let parsed = Username::parse(&raw);
            match (&parsed, first_broken_rule(&nfc)) {
                (Ok(name), None) => {
                    prop_assert_eq!(name.as_str(), nfc.as_str());
                }
                (Err(err), Some(rule)) => prop_assert_eq!(rule_of(err), rule),
                (parsed, expected) => {
                    prop_assert!(false, "{raw:?}: parsed {parsed:?}, the rules say {expected:?}");
                }
            }
        }

        #[test]
        fn accepted_names_are_nfc_and_stable(raw in raw_name()) {
            if let Ok(name) = Username::parse(&raw) {
                let text = name.as_str();
                prop_assert!(unicode_normalization::is_nfc(text), "{text:?}");
                prop_assert_eq!(text.nfc().collect::<String>(), text);
                prop_assert!(!text.chars().any(|c| c.general_category() == GeneralCategory::Format));
                prop_assert!(!is_reserved(text));
                prop_assert_eq!(Username::parse(text).ok(), Some(name.clone()));
                // What a store gives back reads as the same name.
                prop_assert_eq!(Username::from_stored(text).ok(), Some(name.clone()));
                prop_assert_eq!(name.to_string(), text);
            }
        }

        #[test]
        fn normalize_is_the_full_normalizer(raw in raw_name()) {
            // Its quick paths change nothing.
            prop_assert_eq!(normalize(&raw), raw.nfc().collect::<String>());
        }

        #[test]
        fn a_name_and_its_nfc_form_get_the_same_answer(raw in raw_name()) {
            let nfc = normalize(&raw);
            prop_assert_eq!(normalize(&nfc), nfc.clone(), "NFC is idempotent");
            let nfd: String = raw.nfd().collect();
            for other in [nfc, nfd] {
                match (Username::parse(&raw), Username::parse(&other)) {
                    (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                    (Err(a), Err(b)) => prop_assert_eq!(rule_of(&a), rule_of(&b)),
                    (a, b) => prop_assert!(false, "{raw:?} gives {a:?}, {other:?} gives {b:?}"),
                }
            }
        }

        #[test]
        fn stored_names_read_back_unchanged(raw in any::<String>()) {
            match Username::from_stored(&raw) {
                Ok(name) => {
                    prop_assert_eq!(name.as_str(), raw.as_str());
                    prop_assert!(raw.chars().count() <= MAX_USERNAME_CHARS);
                    prop_assert!(!raw.chars().any(char::is_control));
                }
                Err(err) => prop_assert!(matches!(
                    err,
                    Error::MissingUsername | Error::UsernameTooLong | Error::UsernameInvalid
                )),
            }
        }
    }
}
