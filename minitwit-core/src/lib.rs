//! # minitwit-core
//!
//! MiniTwit is a tiny Twitter: people register, post short messages, follow
//! each other and read three timelines (everyone's, one user's, and their own
//! home timeline of themselves and everyone they follow). This crate is the
//! whole domain, with no HTTP and no storage engine in it:
//!
//! * validated types ([`Username`], [`Email`], [`MessageText`], ...) that
//!   cannot hold an invalid value;
//! * the [`MiniTwit`] service, the one entry point every frontend calls: it
//!   validates, hashes passwords (argon2id, off the async executor) and
//!   applies the rules;
//! * one [`Error`] enum whose texts are what users read, and whose
//!   [`ErrorKind`] a frontend maps to a status code;
//! * the [`Store`] trait, whose documentation is the contract every storage
//!   backend keeps, and [`MemoryStore`], its reference implementation;
//! * with the `conformance` feature, the suite every backend must pass: the
//!   check functions and the model-based property test in the `conformance`
//!   module, which one line, `minitwit_core::store_conformance_tests!(fresh_store);`,
//!   runs in a backend's `tests/`.
//!
//! ## Embedding
//!
//! ```
//! use std::sync::Arc;
//! use minitwit_core::{MemoryStore, MiniTwit, PageRequest, Registration};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let service = MiniTwit::builder(Arc::new(MemoryStore::new())).build()?;
//! for name in ["Ada Lovelace", "Grace Hopper"] {
//!     service
//!         .register(Registration {
//!             username: name,
//!             email: "someone@example.org",
//!             password: "a long passphrase",
//!             password_confirmation: None,
//!             caller: minitwit_core::Caller::SimulatorApi,
//!         })
//!         .await?;
//! }
//! service.follow("Ada Lovelace", "Grace Hopper").await?;
//! service.post("Grace Hopper", "It's easier to ask forgiveness.").await?;
//!
//! let ada = service.user("Ada Lovelace").await?;
//! let page = service.home_timeline(ada.id, PageRequest::first(30)).await?;
//! assert_eq!(page.messages[0].author.username.as_str(), "Grace Hopper");
//! # Ok::<(), minitwit_core::Error>(())
//! # }).unwrap();
//! ```

pub mod backup;
mod domain;
mod error;
pub mod home;
mod memory;
pub mod named;
mod password;
mod records;
mod service;
mod store;
mod username;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use domain::{
    Email, MAX_EMAIL_BYTES, MAX_ENCODED_BYTES_PER_CHAR, MAX_MESSAGE_CHARS, MAX_PASSWORD_BYTES,
    MAX_REQUEST_BODY_BYTES, Message, MessageId, MessageText, NewUser, Page, PageRequest, Password,
    PasswordHash, StoredUser, Timeline, Timestamp, User, UserId,
};
pub use error::{BoxError, Error, ErrorKind, StoreError, texts};
pub use memory::MemoryStore;
pub use password::{
    Caller, HashCost, HashEvent, HashLimits, HashLoad, HashObserver, PasswordHasher,
};
pub use records::{Counts, MessageRecord, Record, RecordStream};
pub use service::{
    Authenticated, Clock, MiniTwit, MiniTwitBuilder, Registration, SESSION_KEY_SECRET,
    STORE_IDENTITY_SECRET, SharedSecret, Stats, UserRef, ValidRegistration, check_follow,
    system_clock,
};
pub use store::Store;
pub use username::{MAX_USERNAME_CHARS, RESERVED_USERNAMES, Username, normalize};
