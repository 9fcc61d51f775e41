//! The typed contexts of the templates: one struct per page, and the pieces
//! they share.

use minitwit_core::{Message, MessageId, User};
use serde::Serialize;

use crate::assets::STYLESHEET_URL;
use crate::avatar::AVATAR_SIZE;
use crate::avatar::Avatars;
use crate::flash::{FlashKind, Flashed};
use crate::time::format_timestamp;

/// What every page shows around its body.
#[derive(Debug, Serialize)]
pub(crate) struct Layout {
    /// The page title (before ` | MiniTwit`), also its heading.
    pub(crate) title: String,
    /// The stylesheet's URL.
    pub(crate) stylesheet: &'static str,
    /// The signed-in user's name.
    pub(crate) user: Option<String>,
    /// The flashed messages to show once.
    pub(crate) flashes: Vec<FlashView>,
}

impl Layout {
    pub(crate) fn new(
        title: impl Into<String>,
        viewer: Option<&User>,
        flash: Option<Flashed>,
    ) -> Self {
        Self {
            title: title.into(),
            stylesheet: STYLESHEET_URL.as_str(),
            user: viewer.map(|user| user.username.to_string()),
            flashes: flash
                .map(|flash| FlashView {
                    kind: flash.kind,
                    message: flash.message,
                })
                .into_iter()
                .collect(),
        }
    }
}

/// One flashed message.
#[derive(Debug, Serialize)]
pub(crate) struct FlashView {
    /// `success` or `error`.
    pub(crate) kind: FlashKind,
    /// The text.
    pub(crate) message: String,
}

/// Which timeline a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TimelineKind {
    Home,
    Public,
    User,
}

/// A timeline page.
#[derive(Debug, Serialize)]
pub(crate) struct TimelinePage {
    pub(crate) layout: Layout,
    pub(crate) kind: TimelineKind,
    /// On a user's page: whose, and how the viewer relates to them.
    pub(crate) profile: Option<Profile>,
    pub(crate) messages: Vec<MessageView>,
    pub(crate) avatar_size: u32,
    /// The next older page, when there is one.
    pub(crate) older_url: Option<String>,
    /// The newest page, when this is not it.
    pub(crate) newest_url: Option<String>,
}

/// The user whose timeline is shown.
#[derive(Debug, Serialize)]
pub(crate) struct Profile {
    pub(crate) username: String,
    pub(crate) relation: Relation,
    pub(crate) follow_url: String,
    pub(crate) unfollow_url: String,
}

/// How the signed-in viewer relates to the user whose page it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Relation {
    /// Nobody is signed in.
    Anonymous,
    /// It is the viewer's own page.
    Myself,
    Following,
    NotFollowing,
}

impl Profile {
    pub(crate) fn new(user: &User, relation: Relation) -> Self {
        let url = user_url(user.username.as_str());
        Self {
            username: user.username.to_string(),
            relation,
            follow_url: format!("{url}/follow"),
            unfollow_url: format!("{url}/unfollow"),
        }
    }
}

/// One message in a timeline.
#[derive(Debug, Serialize)]
pub(crate) struct MessageView {
    pub(crate) author: String,
    pub(crate) author_url: String,
    pub(crate) avatar_url: String,
    pub(crate) text: String,
    pub(crate) date: String,
}

impl MessageView {
    pub(crate) fn new(message: &Message, avatars: &Avatars) -> Self {
        let author = message.author.username.as_str();
        Self {
            author: author.to_owned(),
            author_url: user_url(author),
            avatar_url: avatars.url(message.author.email.as_str()),
            text: message.text.to_string(),
            date: format_timestamp(message.pub_date),
        }
    }
}

impl TimelinePage {
    /// A page of `messages`; `base` is the timeline's URL without a cursor.
    pub(crate) fn new(
        layout: Layout,
        kind: TimelineKind,
        profile: Option<Profile>,
        page: &minitwit_core::Page,
        base: &str,
        paged: bool,
        avatars: &Avatars,
    ) -> Self {
        Self {
            layout,
            kind,
            profile,
            messages: page
                .messages
                .iter()
                .map(|message| MessageView::new(message, avatars))
                .collect(),
            avatar_size: AVATAR_SIZE,
            older_url: page.next.map(|next| older_url(base, next)),
            newest_url: paged.then(|| base.to_owned()),
        }
    }
}

fn older_url(base: &str, next: MessageId) -> String {
    format!("{base}?before={}", next.0)
}

/// The sign-in page.
#[derive(Debug, Serialize)]
pub(crate) struct LoginPage {
    pub(crate) layout: Layout,
    pub(crate) error: Option<String>,
    pub(crate) username: String,
}

/// The registration page.
#[derive(Debug, Serialize)]
pub(crate) struct RegisterPage {
    pub(crate) layout: Layout,
    pub(crate) error: Option<String>,
    pub(crate) username: String,
    pub(crate) email: String,
}

/// An error page (401, 403, 404, 500, 503, ...).
#[derive(Debug, Serialize)]
pub(crate) struct ErrorPage {
    pub(crate) layout: Layout,
    pub(crate) status: u16,
    pub(crate) message: String,
    /// Offer a sign-in link.
    pub(crate) offer_sign_in: bool,
}

/// A page that asks to confirm, with a button that posts, what a link
/// opened from outside the site would have done.
#[derive(Debug, Serialize)]
pub(crate) struct ConfirmPage {
    pub(crate) layout: Layout,
    /// What would be done, as a question.
    pub(crate) question: String,
    /// Where the form posts.
    pub(crate) action: String,
    /// The button's label.
    pub(crate) button: &'static str,
    /// Where "go back" leads.
    pub(crate) back: String,
}

/// The URL of a user's timeline, the name percent-encoded as one path
/// segment.
pub(crate) fn user_url(username: &str) -> String {
    let mut url = String::with_capacity(username.len() + 1);
    url.push('/');
    for byte in username.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'~' | b'.') {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::user_url;

    #[test]
    fn user_urls_encode_one_segment() {
        assert_eq!(user_url("alice"), "/alice");
        assert_eq!(user_url("Roger Histand"), "/Roger%20Histand");
        assert_eq!(user_url("a/b?c#d"), "/a%2Fb%3Fc%23d");
        assert_eq!(user_url("Zoë"), "/Zo%C3%AB");
        assert_eq!(user_url("<x>\"'&"), "/%3Cx%3E%22%27%26");
    }
}
