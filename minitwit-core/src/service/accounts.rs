//! Accounts: the registration form and its rules, registering (one
//! password hash, refused early for a taken name), signing in, and the
//! sessions a sign-out ends.

use argon2::password_hash::rand_core::{OsRng, RngCore as _};

use super::{Authenticated, MiniTwit};
use crate::named::NameCheck;
use crate::password::Caller;
use crate::{Email, Error, NewUser, Password, StoreError, User, UserId, Username};

/// What a person fills in to register.
#[derive(Debug, Clone, Copy)]
pub struct Registration<'a> {
    /// The wanted username.
    pub username: &'a str,
    /// The e-mail address.
    pub email: &'a str,
    /// The password.
    pub password: &'a str,
    /// The password typed a second time, where the form asks for it (the
    /// web site does, the simulator API does not).
    pub password_confirmation: Option<&'a str>,
    /// Who registers: decides which password-hashing slots it may use.
    pub caller: Caller,
}

impl Registration<'_> {
    /// Checks the form in the reference's order: username, e-mail,
    /// password, then the confirmation (when the form has one). Whether the
    /// name is taken is the store's to say.
    ///
    /// # Errors
    /// The first failed check's error.
    pub fn validate(&self) -> Result<ValidRegistration, Error> {
        let username = Username::parse(self.username)?;
        let email = Email::parse(self.email)?;
        let password = Password::parse(self.password)?;
        if self
            .password_confirmation
            .is_some_and(|confirmation| confirmation != self.password)
        {
            return Err(Error::PasswordMismatch);
        }
        Ok(ValidRegistration {
            username,
            email,
            password,
        })
    }
}

/// A registration form that passed [`Registration::validate`].
#[derive(Debug, Clone)]
pub struct ValidRegistration {
    /// The username.
    pub username: Username,
    /// The e-mail address.
    pub email: Email,
    /// The password.
    pub password: Password,
}

impl MiniTwit {
    /// Registers a user. Checks the form (see [`Registration::validate`]),
    /// then whether the name is taken, so each mistake gets the text the
    /// reference gives it.
    ///
    /// # Errors
    /// The first failed check's error, [`Error::UsernameTaken`] included.
    pub async fn register(&self, form: Registration<'_>) -> Result<User, Error> {
        let new_user = self.new_user(form, &mut None).await?;
        created(self.store.create_user(new_user).await)
    }

    /// [`register`](Self::register) for the simulator API, which also
    /// records `latest` whatever the outcome: with the new user in one call
    /// to the store (one round trip on Redis, one durable commit on sled)
    /// when the registration gets that far, with the check of a name that
    /// is taken when it stops there, else on its own before the error is
    /// returned.
    ///
    /// # Errors
    /// As [`register`](Self::register); a store failure while recording
    /// `latest` comes first.
    pub async fn register_with_latest(
        &self,
        form: Registration<'_>,
        latest: Option<i64>,
    ) -> Result<User, Error> {
        let mut unrecorded = latest;
        match self.new_user(form, &mut unrecorded).await {
            Ok(new_user) => created(self.store.create_user_with_latest(new_user, latest).await),
            Err(err) => {
                self.record(unrecorded).await?;
                Err(err)
            }
        }
    }

    /// The checks and the hash of a registration: the user to create.
    /// `latest` is taken out of its option once the store has recorded it
    /// (with a name found taken).
    async fn new_user(
        &self,
        form: Registration<'_>,
        latest: &mut Option<i64>,
    ) -> Result<NewUser, Error> {
        // The application's own reserved names are a username mistake too,
        // reported before anything about the other fields.
        if let Ok(name) = Username::parse(form.username)
            && self
                .reserved
                .iter()
                .any(|reserved| reserved.eq_ignore_ascii_case(name.as_str()))
        {
            return Err(Error::UsernameReserved);
        }
        let ValidRegistration {
            username,
            email,
            password,
        } = form.validate()?;
        // Spares a hash for a name that is taken; the store still decides
        // atomically when two registrations race.
        if self.store.check_name(username.as_str(), *latest).await? == NameCheck::Taken {
            latest.take();
            // The answer reports what the store holds: the name's owner must
            // be durable before anyone hears that the name is taken.
            self.store.sync().await?;
            return Err(Error::UsernameTaken);
        }
        let password_hash = self.hasher.hash(&password, form.caller).await?;
        Ok(NewUser {
            username,
            email,
            password_hash,
            session_generation: OsRng.next_u64(),
        })
    }

    /// Checks a username and password (a sign-in on the site).
    ///
    /// # Errors
    /// [`Error::UnknownUsername`] or [`Error::WrongPassword`]; both take one
    /// hash's time. [`Error::Busy`] when no hashing slot is free soon
    /// enough.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Authenticated, Error> {
        let stored = self.stored_by_name(username).await?;
        let matches = self
            .hasher
            .verify(
                password,
                stored.as_ref().map(|stored| &stored.password_hash),
                Caller::Site,
            )
            .await?;
        match stored {
            None => Err(Error::UnknownUsername),
            Some(_) if !matches => Err(Error::WrongPassword),
            Some(stored) => Ok(Authenticated {
                user: stored.user,
                session_generation: stored.session_generation,
            }),
        }
    }

    /// The user of a session: user `id`, if their session generation is
    /// still `generation`; `None` when the user is gone or their sessions
    /// ended since.
    ///
    /// # Errors
    /// Store failures.
    pub async fn session_user(&self, id: UserId, generation: u64) -> Result<Option<User>, Error> {
        Ok(self
            .store
            .user_by_id(id)
            .await?
            .filter(|stored| stored.session_generation == generation)
            .map(|stored| stored.user))
    }

    /// Ends every session of `user`, on every instance (signing out).
    ///
    /// # Errors
    /// Store failures.
    pub async fn end_sessions(&self, user: UserId) -> Result<(), Error> {
        self.store.end_sessions(user).await?;
        Ok(())
    }
}

/// The answer of a registration once the store has created the user (or
/// found the name taken after all).
fn created(created: Result<User, StoreError>) -> Result<User, Error> {
    let user = created?;
    tracing::info!(user_id = user.id.0, "registered a user");
    Ok(user)
}
