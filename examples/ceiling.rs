//! The HTTP ceiling for benchmarks: the simulator API's write and read
//! endpoints on bare Rocket, with everything in one in-memory map under a
//! mutex, no password hashing, no validation beyond what the answers need.
//! `scripts/bench` replays the same scenario against it and against the
//! real server, so that the real server's throughput reads as a share of
//! what Rocket itself can serve on this machine. Not a MiniTwit: do not
//! deploy it.
//!
//! ```sh
//! cargo run --release --example ceiling -- 127.0.0.1:8001
//! ```
//!
//! It serves the API at `/api` on the address given (default
//! `127.0.0.1:8001`).

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Mutex;

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::serde::json::{Json, Value, json};
use rocket::{State, get, post, routes};
use serde::Deserialize;

/// Everything the API holds.
#[derive(Default)]
struct World {
    latest: i64,
    users: HashMap<String, usize>,
    follows: Vec<BTreeSet<usize>>,
    messages: Vec<(usize, String)>,
}

type Shared = Mutex<World>;

/// The simulator's credential, checked as the real server does; records
/// `latest`.
struct Sim;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Sim {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let authorized =
            req.headers().get_one("Authorization") == Some("Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh");
        if !authorized {
            return Outcome::Error((Status::Forbidden, ()));
        }
        if let Some(Ok(latest)) = req.query_value::<i64>("latest")
            && let Outcome::Success(world) = req.guard::<&State<Shared>>().await
        {
            lock(world).latest = latest;
        }
        Outcome::Success(Sim)
    }
}

fn lock(world: &Shared) -> std::sync::MutexGuard<'_, World> {
    world
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Deserialize)]
struct Register {
    username: String,
}

#[derive(Deserialize)]
struct Post {
    content: String,
}

#[derive(Deserialize)]
struct Follow {
    follow: Option<String>,
    unfollow: Option<String>,
}

#[get("/latest")]
fn latest(world: &State<Shared>) -> Value {
    json!({ "latest": lock(world).latest })
}

#[post("/register", data = "<body>")]
fn register(_sim: Sim, body: Json<Register>, world: &State<Shared>) -> Status {
    let mut world = lock(world);
    if world.users.contains_key(&body.username) {
        return Status::BadRequest;
    }
    let id = world.follows.len();
    world.users.insert(body.0.username, id);
    world.follows.push(BTreeSet::new());
    Status::NoContent
}

#[post("/msgs/<user>", data = "<body>")]
fn post(_sim: Sim, user: &str, body: Json<Post>, world: &State<Shared>) -> Status {
    let mut world = lock(world);
    match world.users.get(user).copied() {
        Some(id) => {
            world.messages.push((id, body.0.content));
            Status::NoContent
        }
        None => Status::NotFound,
    }
}

#[get("/msgs?<no>")]
fn messages(_sim: Sim, no: Option<usize>, world: &State<Shared>) -> Value {
    let world = lock(world);
    let names: HashMap<usize, &str> = world
        .users
        .iter()
        .map(|(name, id)| (*id, name.as_str()))
        .collect();
    let page: Vec<Value> = world
        .messages
        .iter()
        .rev()
        .take(no.unwrap_or(100))
        .map(|(author, text)| json!({ "content": text, "user": names.get(author) }))
        .collect();
    Value::Array(page)
}

#[post("/fllws/<user>", data = "<body>")]
fn follow(_sim: Sim, user: &str, body: Json<Follow>, world: &State<Shared>) -> Status {
    let mut world = lock(world);
    let Some(follower) = world.users.get(user).copied() else {
        return Status::NotFound;
    };
    let (target, following) = match (&body.follow, &body.unfollow) {
        (Some(target), None) => (target, true),
        (None, Some(target)) => (target, false),
        _ => return Status::BadRequest,
    };
    let Some(followee) = world.users.get(target).copied() else {
        return Status::NotFound;
    };
    if following && follower == followee {
        return Status::BadRequest;
    }
    let follows = &mut world.follows[follower];
    if following {
        follows.insert(followee);
    } else {
        follows.remove(&followee);
    }
    Status::NoContent
}

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let address: SocketAddr = std::env::args()
        .nth(1)
        .as_deref()
        .unwrap_or("127.0.0.1:8001")
        .parse()?;
    // A release build insists on a secret key, though nothing here uses one.
    let secret_key: String = rand::random::<[u8; 32]>()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let figment = rocket::Config::figment()
        .merge(("secret_key", secret_key))
        .merge(("address", address.ip()))
        .merge(("port", address.port()))
        .merge(("log_level", "off"));
    let _ = rocket::custom(figment)
        .manage(Shared::default())
        .mount("/api", routes![latest, register, post, messages, follow])
        .launch()
        .await?;
    Ok(())
}
