//! Avatars: an identicon drawn from a keyed hash of the e-mail address,
//! served by this site so pages load nothing from third parties; or, when
//! configured, Gravatar's picture for the address.
//!
//! The identicon's URL carries an HMAC-SHA-256 of the address under a key
//! kept in the store (truncated to 128 bits), not the bare md5 that
//! Gravatar uses: anyone can compute md5s of an address list and match them
//! against the site's pages, but nobody without the key can. Gravatar needs
//! the md5, so that mode shows it, as Gravatar itself does.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use rocket::http::Header;
use rocket::{Route, get, routes};
use sha2::Sha256;

use crate::AvatarStyle;

/// Size of the avatars on the pages, in CSS pixels.
pub(crate) const AVATAR_SIZE: u32 = 48;

/// The name of the identicon key in the store.
pub(crate) const AVATAR_KEY_SECRET: &str = "avatar-key";

/// Length of the identicon key, in bytes.
pub(crate) const AVATAR_KEY_BYTES: usize = 32;

/// How the site shows avatars: the style, and the key of the identicons.
#[derive(Clone)]
pub(crate) struct Avatars {
    pub(crate) style: AvatarStyle,
    key: Vec<u8>,
}

impl std::fmt::Debug for Avatars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Avatars")
            .field("style", &self.style)
            .finish_non_exhaustive()
    }
}

impl Avatars {
    pub(crate) fn new(style: AvatarStyle, key: Vec<u8>) -> Self {
        Self { style, key }
    }

    /// Where the avatar of `email` is shown from.
    pub(crate) fn url(&self, email: &str) -> String {
        match self.style {
            AvatarStyle::Identicon => format!("/avatar/{}.svg", keyed_hash(&self.key, email)),
            AvatarStyle::Gravatar => format!(
                "https://www.gravatar.com/avatar/{}?d=identicon&s={AVATAR_SIZE}",
                email_hash(email)
            ),
        }
    }
}

/// The address as both hashes see it: trimmed, lower-cased.
fn canonical(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The Gravatar hash: md5 of the trimmed, lower-cased address, in hex.
pub(crate) fn email_hash(email: &str) -> String {
    hex(&Md5::digest(canonical(email).as_bytes()))
}

/// HMAC-SHA-256 of the trimmed, lower-cased address under `key`, its first
/// 16 bytes in hex.
pub(crate) fn keyed_hash(key: &[u8], email: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
    mac.update(canonical(email).as_bytes());
    hex(&mac.finalize().into_bytes()[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Parses 32 lower-case hex digits.
fn parse_hash(hex: &str) -> Option<[u8; 16]> {
    let digits = hex.as_bytes();
    if digits.len() != 32 {
        return None;
    }
    let nibble = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    let mut bytes = [0u8; 16];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(bytes)
}

/// A 5x5 identicon, mirrored left to right, as SVG. The first 15 bits of
/// the hash choose the cells of the left three columns; the last bytes
/// choose the colour.
pub(crate) fn identicon_svg(hash: &[u8; 16]) -> String {
    let bits = u32::from(hash[0]) | u32::from(hash[1]) << 8;
    let hue = (u16::from(hash[13]) << 8 | u16::from(hash[14])) % 360;
    let saturation = 45 + u16::from(hash[15]) % 25;
    let lightness = 40 + u16::from(hash[12]) % 15;
    let (r, g, b) = hsl_to_rgb(hue, saturation, lightness);
    let mut cells = String::new();
    for row in 0..5u32 {
        for col in 0..3u32 {
            if bits >> (row * 3 + col) & 1 == 1 {
                for x in [col, 4 - col] {
                    cells.push_str(&format!(
                        r#"<rect x="{}" y="{}" width="1" height="1"/>"#,
                        x + 1,
                        row + 1
                    ));
                    if col == 2 {
                        break;
                    }
                }
            }
        }
    }
    format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 7 7" "#,
            r#"width="{size}" height="{size}" shape-rendering="crispEdges">"#,
            r##"<rect width="7" height="7" fill="#f2f2f2"/>"##,
            r##"<g fill="#{r:02x}{g:02x}{b:02x}">{cells}</g></svg>"##
        ),
        size = AVATAR_SIZE,
        r = r,
        g = g,
        b = b,
        cells = cells
    )
}

/// HSL (degrees, percent, percent) to 8-bit RGB.
fn hsl_to_rgb(hue: u16, saturation: u16, lightness: u16) -> (u8, u8, u8) {
    let s = f64::from(saturation) / 100.0;
    let l = f64::from(lightness) / 100.0;
    let chroma = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let h = f64::from(hue) / 60.0;
    let x = chroma * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match hue / 60 {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    let m = l - chroma / 2.0;
    let channel = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    (channel(r), channel(g), channel(b))
}

/// An SVG that never changes for its URL.
#[derive(rocket::Responder)]
#[response(content_type = "image/svg+xml")]
struct ImmutableSvg {
    body: String,
    cache: Header<'static>,
}

/// `GET /avatar/<hash>.svg`. Ranked after `/<username>/follow` and
/// `/<username>/unfollow`, which share its shape.
#[get("/avatar/<file>", rank = 5)]
fn avatar(file: &str) -> Option<ImmutableSvg> {
    let hash = parse_hash(file.strip_suffix(".svg")?)?;
    Some(ImmutableSvg {
        body: identicon_svg(&hash),
        cache: Header::new("Cache-Control", "public, max-age=31536000, immutable"),
    })
}

/// The avatar route.
pub(crate) fn routes() -> Vec<Route> {
    routes![avatar]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_gravatars() {
        // The example from Gravatar's documentation.
        assert_eq!(
            email_hash("  MyEmailAddress@example.com "),
            "0bc83cb571cd1c50ba6f3e8a78ef1346"
        );
    }

    #[test]
    fn hashes_parse_only_as_32_lower_hex_digits() {
        let hash = email_hash("a@b.c");
        assert_eq!(parse_hash(&hash).map(|b| b.len()), Some(16));
        assert!(parse_hash(&hash.to_uppercase()).is_none());
        assert!(parse_hash(&hash[1..]).is_none());
        assert!(parse_hash("zz").is_none());
        assert!(parse_hash(&"g".repeat(32)).is_none());
    }

    #[test]
    fn identicon_is_symmetric_and_deterministic() {
        let hash = [
            0b1010_0110,
            0b0101_1011,
            3,
            4,
            5,
            6,
            7,
            8,
            9,
            10,
            11,
            12,
            13,
            14,
            15,
            16,
        ];
        let svg = identicon_svg(&hash);
        assert_eq!(svg, identicon_svg(&hash));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        let cells: Vec<(u32, u32)> = svg
            .split("<rect x=\"")
            .skip(1)
            .filter_map(|rest| {
                let (x, rest) = rest.split_once("\" y=\"")?;
                let (y, _) = rest.split_once('"')?;
                Some((x.parse().ok()?, y.parse().ok()?))
            })
            .collect();
        assert!(!cells.is_empty());
        for &(x, y) in &cells {
            assert!((1..=5).contains(&x) && (1..=5).contains(&y));
            assert!(cells.contains(&(6 - x, y)), "cell ({x},{y}) has no mirror");
        }
        // Bit 0 (row 0, col 0) is clear, bit 1 (row 0, col 1) is set.
        assert!(!cells.contains(&(1, 1)));
        assert!(cells.contains(&(2, 1)) && cells.contains(&(4, 1)));
    }

    #[test]
    fn different_hashes_give_different_pictures() {
        let a = identicon_svg(&parse_hash(&email_hash("a@example.org")).unwrap_or_default());
        let b = identicon_svg(&parse_hash(&email_hash("b@example.org")).unwrap_or_default());
        assert_ne!(a, b);
    }

    #[test]
    fn colours_convert() {
        assert_eq!(hsl_to_rgb(0, 100, 50), (255, 0, 0));
        assert_eq!(hsl_to_rgb(120, 100, 50), (0, 255, 0));
        assert_eq!(hsl_to_rgb(240, 100, 50), (0, 0, 255));
        assert_eq!(hsl_to_rgb(0, 0, 100), (255, 255, 255));
    }

    #[test]
    fn urls_follow_the_style_and_identicons_hide_the_md5() {
        let md5 = email_hash("a@b.c");
        let key = vec![7u8; AVATAR_KEY_BYTES];
        let identicon = Avatars::new(AvatarStyle::Identicon, key.clone()).url(" A@B.c ");
        let keyed = keyed_hash(&key, "a@b.c");
        assert_eq!(identicon, format!("/avatar/{keyed}.svg"));
        assert_ne!(keyed, md5, "the identicon URL must not carry the md5");
        assert!(parse_hash(&keyed).is_some(), "the route must serve it");
        assert_ne!(keyed, keyed_hash(&[8u8; AVATAR_KEY_BYTES], "a@b.c"));
        assert_eq!(
            Avatars::new(AvatarStyle::Gravatar, key).url("a@b.c"),
            format!("https://www.gravatar.com/avatar/{md5}?d=identicon&s=48")
        );
    }
}
