//! The pages and actions of the site. Each handler parses, makes one call to
//! the service and renders; guards decide who may do what.

use minitwit_core::{Caller, Error, ErrorKind, MessageId, Page, PageRequest, Registration, User};
use rocket::form::Form;
use rocket::http::CookieJar;
use rocket::response::{Redirect, Responder};
use rocket::{FromForm, Route, State, get, post, routes};
use rocket_dyn_templates::Template;

use crate::csrf::{GetOrigin, SameOrigin};
use crate::error_pages::PageError;
use crate::flash::{FlashRedirect, Flashed};
use crate::limits::ClientAddress;
use crate::session::{NotSignedOut, SignedIn, SignedOut, Viewer, forget_session, sign_in};
use crate::views::{
    ConfirmPage, Layout, LoginPage, Profile, RegisterPage, Relation, TimelineKind, TimelinePage,
    user_url,
};
use crate::{PAGE_SIZE, Site};

/// What a handler answers with.
#[derive(Responder)]
pub(crate) enum Reply {
    /// A rendered page.
    Page(Template),
    /// A plain redirect.
    Redirect(Redirect),
    /// A redirect that flashes a message on the next page.
    Flash(FlashRedirect),
}

type PageResult = Result<Reply, PageError>;

fn page_request(before: Option<u64>) -> PageRequest {
    match before {
        Some(id) => PageRequest::before(MessageId(id), PAGE_SIZE),
        None => PageRequest::first(PAGE_SIZE),
    }
}

fn render_timeline(
    site: &Site,
    layout: Layout,
    kind: TimelineKind,
    profile: Option<Profile>,
    (page, base, before): (&Page, &str, Option<u64>),
) -> PageResult {
    let context = TimelinePage::new(
        layout,
        kind,
        profile,
        page,
        base,
        before.is_some(),
        &site.avatars,
    );
    Ok(Reply::Page(Template::render("timeline.html", context)))
}

#[get("/?<before>")]
async fn home(
    viewer: Viewer,
    flash: Option<Flashed>,
    site: &State<Site>,
    before: Option<u64>,
) -> PageResult {
    let Some(user) = viewer.0 else {
        return Ok(Reply::Redirect(Redirect::to("/public")));
    };
    let page = site
        .service
        .home_timeline(user.id, page_request(before))
        .await?;
    let layout = Layout::new("My Timeline", Some(&user), flash);
    render_timeline(site, layout, TimelineKind::Home, None, (&page, "/", before))
}

#[get("/public?<before>")]
async fn public(
    viewer: Viewer,
    flash: Option<Flashed>,
    site: &State<Site>,
    before: Option<u64>,
) -> PageResult {
    let page = site.service.public_timeline(page_request(before)).await?;
    let layout = Layout::new("Public Timeline", viewer.0.as_ref(), flash);
    render_timeline(
        site,
        layout,
        TimelineKind::Public,
        None,
        (&page, "/public", before),
    )
}

#[get("/<username>?<before>")]
async fn user_timeline(
    username: &str,
    viewer: Viewer,
    flash: Option<Flashed>,
    site: &State<Site>,
    before: Option<u64>,
) -> PageResult {
    let (user, page) = site
        .service
        .user_timeline(username, page_request(before))
        .await?;
    let profile = Profile::new(&user, relation(site, viewer.0.as_ref(), &user).await?);
    let title = format!("{}'s Timeline", user.username);
    let layout = Layout::new(title, viewer.0.as_ref(), flash);
    let base = user_url(user.username.as_str());
    render_timeline(
        site,
        layout,
        TimelineKind::User,
        Some(profile),
        (&page, &base, before),
    )
}

async fn relation(site: &Site, viewer: Option<&User>, user: &User) -> Result<Relation, Error> {
    Ok(match viewer {
        None => Relation::Anonymous,
        Some(viewer) if viewer.id == user.id => Relation::Myself,
        Some(viewer) if site.service.is_following(viewer.id, user.id).await? => Relation::Following,
        Some(_) => Relation::NotFollowing,
    })
}

/// Follow or unfollow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Follow,
    Unfollow,
}

async fn change_follow(site: &Site, user: &User, username: &str, change: Change) -> PageResult {
    site.limits.follow_change(user.id)?;
    let result = match change {
        Change::Follow => site.service.follow(user.id, username).await,
        Change::Unfollow => site.service.unfollow(user.id, username).await,
    };
    match result {
        Ok(followee) => {
            let text = match change {
                Change::Follow => format!("You are now following \"{}\"", followee.username),
                Change::Unfollow => {
                    format!("You are no longer following \"{}\"", followee.username)
                }
            };
            let back = user_url(followee.username.as_str());
            Ok(Reply::Flash(FlashRedirect::success(back, text)))
        }
        Err(err) if err.kind() == ErrorKind::Invalid => {
            let back = user_url(username);
            Ok(Reply::Flash(FlashRedirect::error(back, err.to_string())))
        }
        Err(err) => Err(err.into()),
    }
}

/// The page that asks to confirm a follow or unfollow that a link from
/// outside the site asked for.
fn confirm_follow(user: &User, username: &str, change: Change) -> Reply {
    let (question, button, verb) = match change {
        Change::Follow => (format!("Follow \"{username}\"?"), "Follow", "follow"),
        Change::Unfollow => (
            format!("Stop following \"{username}\"?"),
            "Unfollow",
            "unfollow",
        ),
    };
    let back = user_url(username);
    confirm_page(user, question, format!("{back}/{verb}"), button, back)
}

/// A page that asks `user` to confirm an action with a POST button.
fn confirm_page(
    user: &User,
    question: String,
    action: String,
    button: &'static str,
    back: String,
) -> Reply {
    Reply::Page(Template::render(
        "confirm.html",
        ConfirmPage {
            layout: Layout::new("Please confirm", Some(user), None),
            question,
            action,
            button,
            back,
        },
    ))
}

/// The legacy link form that non-browser clients use; a browser that did
/// not come from the site gets a page to confirm it.
#[get("/<username>/follow")]
async fn follow_link(
    origin: GetOrigin,
    user: SignedIn,
    username: &str,
    site: &State<Site>,
) -> PageResult {
    match origin {
        GetOrigin::Site => change_follow(site, &user.0, username, Change::Follow).await,
        GetOrigin::Elsewhere => Ok(confirm_follow(&user.0, username, Change::Follow)),
    }
}

/// The form the page itself uses.
#[post("/<username>/follow")]
async fn follow_form(
    _csrf: SameOrigin,
    user: SignedIn,
    username: &str,
    site: &State<Site>,
) -> PageResult {
    change_follow(site, &user.0, username, Change::Follow).await
}

#[get("/<username>/unfollow")]
async fn unfollow_link(
    origin: GetOrigin,
    user: SignedIn,
    username: &str,
    site: &State<Site>,
) -> PageResult {
    match origin {
        GetOrigin::Site => change_follow(site, &user.0, username, Change::Unfollow).await,
        GetOrigin::Elsewhere => Ok(confirm_follow(&user.0, username, Change::Unfollow)),
    }
}

#[post("/<username>/unfollow")]
async fn unfollow_form(
    _csrf: SameOrigin,
    user: SignedIn,
    username: &str,
    site: &State<Site>,
) -> PageResult {
    change_follow(site, &user.0, username, Change::Unfollow).await
}

/// The posting form.
#[derive(Debug, FromForm)]
struct MessageForm {
    #[field(default = "")]
    text: String,
}

#[post("/add_message", data = "<form>")]
async fn add_message(
    _csrf: SameOrigin,
    user: SignedIn,
    site: &State<Site>,
    form: Form<MessageForm>,
) -> PageResult {
    site.limits.post(user.0.id)?;
    match site.service.post(user.0.id, &form.text).await {
        Ok(_) => Ok(Reply::Flash(FlashRedirect::success(
            "/",
            "Your message was recorded",
        ))),
        Err(err) if err.kind() == ErrorKind::Invalid => {
            Ok(Reply::Flash(FlashRedirect::error("/", err.to_string())))
        }
        Err(err) => Err(err.into()),
    }
}

/// The registration form.
#[derive(Debug, FromForm)]
struct RegisterForm {
    #[field(default = "")]
    username: String,
    #[field(default = "")]
    email: String,
    #[field(default = "")]
    password: String,
    #[field(default = "")]
    password2: String,
}

fn register_page(
    flash: Option<Flashed>,
    error: Option<String>,
    form: Option<&RegisterForm>,
) -> Reply {
    Reply::Page(Template::render(
        "register.html",
        RegisterPage {
            layout: Layout::new("Sign Up", None, flash),
            error,
            username: form.map(|form| form.username.clone()).unwrap_or_default(),
            email: form.map(|form| form.email.clone()).unwrap_or_default(),
        },
    ))
}

/// Who may see the sign-in and sign-up pages.
type Visitor = Result<SignedOut, NotSignedOut>;

#[get("/register")]
fn register_form(visitor: Visitor, flash: Option<Flashed>) -> PageResult {
    visitor?;
    Ok(register_page(flash, None, None))
}

#[post("/register", data = "<form>")]
async fn register(
    _csrf: SameOrigin,
    visitor: Visitor,
    client: ClientAddress,
    site: &State<Site>,
    form: Form<RegisterForm>,
) -> PageResult {
    visitor?;
    site.limits.sign_up(client.0)?;
    let registration = Registration {
        username: &form.username,
        email: &form.email,
        password: &form.password,
        password_confirmation: Some(&form.password2),
        caller: Caller::Site,
    };
    match site.service.register(registration).await {
        Ok(_) => {
            let text = "You were successfully registered and can login now";
            Ok(Reply::Flash(FlashRedirect::success("/login", text)))
        }
        Err(err) if err.kind() == ErrorKind::Invalid => {
            Ok(register_page(None, Some(err.to_string()), Some(&form)))
        }
        Err(err) => Err(err.into()),
    }
}

/// The sign-in form.
#[derive(Debug, FromForm)]
struct LoginForm {
    #[field(default = "")]
    username: String,
    #[field(default = "")]
    password: String,
}

fn login_page(flash: Option<Flashed>, error: Option<String>, username: &str) -> Reply {
    Reply::Page(Template::render(
        "login.html",
        LoginPage {
            layout: Layout::new("Sign In", None, flash),
            error,
            username: username.to_owned(),
        },
    ))
}

#[get("/login")]
fn login_form(visitor: Visitor, flash: Option<Flashed>) -> PageResult {
    visitor?;
    Ok(login_page(flash, None, ""))
}

#[post("/login", data = "<form>")]
async fn login(
    _csrf: SameOrigin,
    visitor: Visitor,
    client: ClientAddress,
    site: &State<Site>,
    cookies: &CookieJar<'_>,
    form: Form<LoginForm>,
) -> PageResult {
    visitor?;
    // Before any password is hashed.
    site.limits.sign_in(client.0, &form.username)?;
    match site
        .service
        .authenticate(&form.username, &form.password)
        .await
    {
        Ok(signed_in) => {
            sign_in(
                cookies,
                site,
                &signed_in.user,
                signed_in.session_generation,
                site.service.now(),
            );
            // The answer sends the reader to their home timeline. Reading
            // its first page now fills the store's home cache, so that page
            // is a cache hit: a reader who follows thousands pays the merge
            // here, beside the password check, and not on arrival.
            if let Err(err) = site
                .service
                .home_timeline(signed_in.user.id, page_request(None))
                .await
            {
                tracing::warn!(error = %err, "could not prepare the home timeline at sign-in");
            }
            Ok(Reply::Flash(FlashRedirect::success(
                "/",
                "You were logged in",
            )))
        }
        Err(err) if matches!(err.kind(), ErrorKind::Credentials | ErrorKind::Invalid) => {
            Ok(login_page(None, Some(err.to_string()), &form.username))
        }
        Err(err) => Err(err.into()),
    }
}

/// Signs out: ends the user's sessions everywhere (every copy of the
/// cookie, on every instance), then forgets the cookie.
async fn sign_out(
    viewer: Viewer,
    site: &Site,
    cookies: &CookieJar<'_>,
) -> Result<FlashRedirect, PageError> {
    if let Some(user) = viewer.0 {
        site.service.end_sessions(user.id).await?;
    }
    forget_session(cookies);
    Ok(FlashRedirect::success("/public", "You were logged out"))
}

/// The sign-out link; a browser that did not come from the site gets a
/// page to confirm it.
#[get("/logout")]
async fn logout(
    origin: GetOrigin,
    viewer: Viewer,
    site: &State<Site>,
    cookies: &CookieJar<'_>,
) -> Result<Reply, PageError> {
    match (origin, &viewer.0) {
        (GetOrigin::Elsewhere, Some(user)) => Ok(confirm_page(
            user,
            "Sign out?".to_owned(),
            "/logout".to_owned(),
            "Sign out",
            "/".to_owned(),
        )),
        _ => sign_out(viewer, site, cookies).await.map(Reply::Flash),
    }
}

/// The sign-out button.
#[post("/logout")]
async fn logout_form(
    _csrf: SameOrigin,
    viewer: Viewer,
    site: &State<Site>,
    cookies: &CookieJar<'_>,
) -> Result<FlashRedirect, PageError> {
    sign_out(viewer, site, cookies).await
}

/// The site's routes.
pub(crate) fn routes() -> Vec<Route> {
    routes![
        home,
        public,
        user_timeline,
        follow_link,
        follow_form,
        unfollow_link,
        unfollow_form,
        add_message,
        register_form,
        register,
        login_form,
        login,
        logout,
        logout_form,
    ]
}
