//! Password hashing: argon2id, off the async executor, bounded in
//! concurrency, with a decoy hash so that an unknown user costs as much as a
//! wrong password.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::{Error, Password, PasswordHash};

/// The cost of argon2id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Degree of parallelism.
    pub parallelism: u32,
}

impl HashCost {
    /// OWASP's recommendation for argon2id: 19 MiB, 2 passes, 1 lane.
    pub const OWASP: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// The smallest cost argon2 accepts. Only for tests that create many
    /// users and do not test hashing itself; never for real passwords.
    pub const INSECURE_MINIMUM: Self = Self {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
}

impl Default for HashCost {
    fn default() -> Self {
        Self::OWASP
    }
}

/// Hashes and verifies passwords on tokio's blocking pool, at most
/// `max_concurrent` at a time, so a burst of logins can neither starve the
/// request handlers nor allocate unbounded memory (19 MiB per hash).
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    permits: Arc<Semaphore>,
    decoy: PasswordHash,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("available_permits", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher at `cost` running at most `max_concurrent` hashes at once.
    /// Computes the decoy hash, which takes one hash's time.
    ///
    /// # Errors
    /// [`Error::Internal`] when argon2 rejects the cost parameters.
    pub fn new(cost: HashCost, max_concurrent: usize) -> Result<Self, Error> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|err| Error::Internal(format!("invalid argon2 parameters: {err}").into()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let decoy = hash_with(&argon2, "decoy password that matches nothing")?;
        Ok(Self {
            argon2,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            decoy,
        })
    }

    /// Hashes `password` with a fresh random salt.
    ///
    /// # Errors
    /// [`Error::Internal`] when the blocking task fails.
    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, Error> {
        let argon2 = self.argon2.clone();
        let password = password.clone();
        self.run_blocking(move || hash_with(&argon2, password.expose()))
            .await?
    }

    /// Whether `password` matches `hash`. With `None` (no such user) it
    /// verifies against a decoy hash and returns `false`, taking the same
    /// time as a wrong password.
    ///
    /// # Errors
    /// [`Error::Internal`] when the blocking task fails.
    pub async fn verify(&self, password: &str, hash: Option<&PasswordHash>) -> Result<bool, Error> {
        let argon2 = self.argon2.clone();
        let password = password.to_owned();
        let known = hash.is_some();
        let phc = hash.unwrap_or(&self.decoy).as_phc().to_owned();
        let matches = self
            .run_blocking(move || {
                argon2::PasswordHash::new(&phc)
                    .map(|parsed| argon2.verify_password(password.as_bytes(), &parsed).is_ok())
                    .unwrap_or(false)
            })
            .await?;
        Ok(known && matches)
    }

    async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|err| Error::Internal(Box::new(err)))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|err| Error::Internal(Box::new(err)))
    }
}

fn hash_with(argon2: &Argon2<'_>, password: &str) -> Result<PasswordHash, Error> {
    let salt = SaltString::generate(&mut OsRng);
    argon2
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| PasswordHash::from_phc(hash.to_string()))
        .map_err(|err| Error::Internal(format!("hashing failed: {err}").into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn owasp_hashes_are_argon2id_and_verify() -> Result<(), Error> {
        let hasher = PasswordHasher::new(HashCost::OWASP, 2)?;
        let hash = hasher.hash(&Password::parse("correct horse")?).await?;
        assert!(hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hasher.verify("correct horse", Some(&hash)).await?);
        assert!(!hasher.verify("wrong horse", Some(&hash)).await?);
        assert!(!hasher.verify("correct horse", None).await?);
        Ok(())
    }

    #[tokio::test]
    async fn same_password_gets_different_salts() -> Result<(), Error> {
        let hasher = PasswordHasher::new(HashCost::INSECURE_MINIMUM, 2)?;
        let password = Password::parse("pw")?;
        assert_ne!(hasher.hash(&password).await?, hasher.hash(&password).await?);
        Ok(())
    }

    #[tokio::test]
    async fn a_garbled_stored_hash_never_matches() -> Result<(), Error> {
        let hasher = PasswordHasher::new(HashCost::INSECURE_MINIMUM, 1)?;
        let garbled = PasswordHash::from_phc("not a phc string".into());
        assert!(!hasher.verify("pw", Some(&garbled)).await?);
        Ok(())
    }
}
