//! Password hashing: argon2id on tokio's blocking pool, in a fixed number of
//! slots that each reuse one buffer of argon2 memory, shared out between the
//! simulator API and the site, with a bounded queue and a waiting deadline;
//! and a decoy hash, so that an unknown user costs as much as a wrong
//! password.
//!
//! A hash holds its memory (19 MiB at the default cost) while it runs. A
//! fresh allocation per hash lets the allocator keep every one of them
//! around afterwards, one per blocking thread that ever hashed; here each
//! slot allocates its buffer once and reuses it, so the memory hashing can
//! take is `slots × cost`, whatever the load.
//!
//! Who asks decides where the request queues ([`Caller`]): some slots are
//! reserved for the simulator API's registrations, the others shared, so a
//! flood of sign-in attempts on the site cannot delay a registration beyond
//! one hash in progress. A request that finds too many already waiting in
//! its lane, or that would wait past its lane's deadline, is refused at
//! once with [`Error::Busy`] instead of queueing without end.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::{OsRng, RngCore as _};
use argon2::password_hash::{Output, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{Semaphore, SemaphorePermit};

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

/// Who asks for a password hash, which decides the slots it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Caller {
    /// The simulator API (registrations): may use every slot, and some are
    /// kept for it alone.
    SimulatorApi,
    /// The HTML site (sign-ups and sign-ins): the shared slots only.
    Site,
}

impl Caller {
    /// A short name, for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SimulatorApi => "api",
            Self::Site => "site",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::SimulatorApi => 0,
            Self::Site => 1,
        }
    }
}

/// How many hashes may run and wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLimits {
    /// Hashes that run at once, in all (at least 2: one kept for the API,
    /// one shared). Each holds one buffer of the cost's memory.
    pub slots: usize,
    /// Of the slots, how many only the simulator API may use (at least 1,
    /// and fewer than `slots`).
    pub reserved_for_api: usize,
    /// API requests that may wait for a slot; one more is refused at once.
    pub api_max_waiting: usize,
    /// Site requests that may wait for a slot; one more is refused at once.
    pub site_max_waiting: usize,
    /// The longest an API request waits for a slot before it is refused.
    pub api_max_wait: Duration,
    /// The longest a site request waits for a slot before it is refused.
    pub site_max_wait: Duration,
}

impl HashLimits {
    /// Limits for `slots` hashes at once: half of them (at least one) kept
    /// for the API; up to 64 API requests per slot waiting for as long as
    /// two seconds, and 16 site requests per slot for two seconds (a
    /// waiting request holds no hashing memory).
    ///
    /// The API's lane is the deeper one because its callers are
    /// authenticated and a late answer costs them less than a refusal: a
    /// registration answered after the simulator's 0.3 s still exists (the
    /// simulator counts one slow request), while a refused one makes every
    /// later action of that user fail. A load generator with many
    /// connections registering at once waits instead of losing users.
    pub fn for_slots(slots: usize) -> Self {
        let slots = slots.max(2);
        Self {
            slots,
            reserved_for_api: (slots / 2).max(1),
            api_max_waiting: slots * 64,
            site_max_waiting: slots * 16,
            api_max_wait: Duration::from_secs(2),
            site_max_wait: Duration::from_secs(2),
        }
    }

    fn max_wait(&self, caller: Caller) -> Duration {
        match caller {
            Caller::SimulatorApi => self.api_max_wait,
            Caller::Site => self.site_max_wait,
        }
    }

    fn max_waiting(&self, caller: Caller) -> usize {
        match caller {
            Caller::SimulatorApi => self.api_max_waiting,
            Caller::Site => self.site_max_waiting,
        }
    }
}

impl Default for HashLimits {
    /// [`for_slots`](Self::for_slots) the number of CPUs.
    fn default() -> Self {
        Self::for_slots(std::thread::available_parallelism().map_or(2, usize::from))
    }
}

/// How one request for a hash ended, for a [`HashObserver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashEvent {
    /// Who asked.
    pub caller: Caller,
    /// How long it waited for a slot.
    pub waited: Duration,
    /// Whether it was refused (too many waiting, or waited too long).
    pub refused: bool,
}

/// Told about every request for a hash (metrics, logs).
pub type HashObserver = Arc<dyn Fn(HashEvent) + Send + Sync>;

/// What the hash slots are doing now, per [`Caller`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HashLoad {
    /// Requests waiting for a slot.
    pub waiting: usize,
    /// Hashes running.
    pub running: usize,
    /// Hashes done since the start.
    pub done: u64,
    /// Requests refused since the start.
    pub refused: u64,
}

#[derive(Debug, Default)]
struct Lane {
    waiting: AtomicUsize,
    running: AtomicUsize,
    done: AtomicU64,
    refused: AtomicU64,
}

struct Inner {
    argon2: Argon2<'static>,
    blocks: usize,
    limits: HashLimits,
    reserved: Semaphore,
    shared: Semaphore,
    /// One argon2 buffer per slot, taken while a hash runs.
    buffers: Mutex<Vec<Vec<Block>>>,
    lanes: [Lane; 2],
    decoy: PasswordHash,
    observer: Option<HashObserver>,
}

/// Hashes and verifies passwords (see the module docs). Cheap to clone:
/// clones share the slots.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

/// Length of a hash, in bytes (argon2's default).
const OUTPUT_BYTES: usize = 32;
/// Length of a salt, in bytes.
const SALT_BYTES: usize = 16;

impl PasswordHasher {
    /// A hasher at `cost` with `limits`, telling `observer` about every
    /// request. Computes the decoy hash, which takes one hash's time.
    ///
    /// # Errors
    /// [`Error::Internal`] when argon2 rejects the cost parameters.
    pub fn new(
        cost: HashCost,
        limits: HashLimits,
        observer: Option<HashObserver>,
    ) -> Result<Self, Error> {
        let params = Params::new(
            cost.memory_kib,
            cost.iterations,
            cost.parallelism,
            Some(OUTPUT_BYTES),
        )
        .map_err(|err| Error::Internal(format!("invalid argon2 parameters: {err}").into()))?;
        let blocks = params.block_count();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let slots = limits.slots.max(2);
        let reserved = limits.reserved_for_api.clamp(1, slots - 1);
        let limits = HashLimits {
            slots,
            reserved_for_api: reserved,
            ..limits
        };
        let mut first = vec![Block::default(); blocks];
        let decoy = hash_with(&argon2, "decoy password that matches nothing", &mut first)?;
        Ok(Self {
            inner: Arc::new(Inner {
                argon2,
                blocks,
                limits,
                reserved: Semaphore::new(reserved),
                shared: Semaphore::new(slots - reserved),
                buffers: Mutex::new(vec![first]),
                lanes: [Lane::default(), Lane::default()],
                decoy,
                observer,
            }),
        })
    }

    /// What the slots are doing now for `caller`.
    pub fn load(&self, caller: Caller) -> HashLoad {
        let lane = &self.inner.lanes[caller.index()];
        HashLoad {
            waiting: lane.waiting.load(Ordering::Relaxed),
            running: lane.running.load(Ordering::Relaxed),
            done: lane.done.load(Ordering::Relaxed),
            refused: lane.refused.load(Ordering::Relaxed),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> HashLimits {
        self.inner.limits
    }

    /// Hashes `password` with a fresh random salt.
    ///
    /// # Errors
    /// [`Error::Busy`] when no slot is free soon enough,
    /// [`Error::Internal`] when the blocking task fails.
    pub async fn hash(&self, password: &Password, caller: Caller) -> Result<PasswordHash, Error> {
        let password = password.clone();
        self.run(caller, move |argon2, memory| {
            hash_with(argon2, password.expose(), memory)
        })
        .await?
    }

    /// Whether `password` matches `hash`. With `None` (no such user) it
    /// verifies against a decoy hash and returns `false`, taking the same
    /// time as a wrong password.
    ///
    /// # Errors
    /// As [`hash`](Self::hash).
    pub async fn verify(
        &self,
        password: &str,
        hash: Option<&PasswordHash>,
        caller: Caller,
    ) -> Result<bool, Error> {
        let password = password.to_owned();
        let known = hash.is_some();
        let phc = hash.unwrap_or(&self.inner.decoy).as_phc().to_owned();
        let matches = self
            .run(caller, move |_, memory| {
                verify_with(&password, &phc, memory)
            })
            .await?;
        Ok(known && matches)
    }

    /// Runs `work` with a slot's buffer, on the blocking pool, once the
    /// caller's lane lets it.
    async fn run<T: Send + 'static>(
        &self,
        caller: Caller,
        work: impl FnOnce(&Argon2<'static>, &mut [Block]) -> T + Send + 'static,
    ) -> Result<T, Error> {
        let inner = &self.inner;
        let lane = &inner.lanes[caller.index()];
        let refuse = |waited| {
            lane.refused.fetch_add(1, Ordering::Relaxed);
            inner.observe(caller, waited, true);
            Err(Error::Busy)
        };
        if lane.waiting.fetch_add(1, Ordering::AcqRel) >= inner.limits.max_waiting(caller) {
            lane.waiting.fetch_sub(1, Ordering::AcqRel);
            return refuse(Duration::ZERO);
        }
        let started = Instant::now();
        let permit = tokio::time::timeout(inner.limits.max_wait(caller), inner.slot(caller)).await;
        lane.waiting.fetch_sub(1, Ordering::AcqRel);
        let waited = started.elapsed();
        let _permit = match permit {
            Ok(Ok(permit)) => permit,
            Ok(Err(closed)) => return Err(Error::Internal(Box::new(closed))),
            Err(_) => return refuse(waited),
        };
        inner.observe(caller, waited, false);
        lane.running.fetch_add(1, Ordering::AcqRel);
        let mut buffer = inner
            .buffers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_else(|| vec![Block::default(); inner.blocks]);
        let shared = Arc::clone(inner);
        let finished = tokio::task::spawn_blocking(move || {
            let result = work(&shared.argon2, &mut buffer);
            (result, buffer)
        })
        .await;
        lane.running.fetch_sub(1, Ordering::AcqRel);
        let (result, buffer) = finished.map_err(|err| Error::Internal(Box::new(err)))?;
        inner
            .buffers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(buffer);
        lane.done.fetch_add(1, Ordering::Relaxed);
        Ok(result)
    }
}

impl Inner {
    /// A slot for `caller`: the API takes a reserved one or a shared one,
    /// whichever is free first; the site only a shared one.
    async fn slot(&self, caller: Caller) -> Result<SemaphorePermit<'_>, tokio::sync::AcquireError> {
        match caller {
            Caller::Site => self.shared.acquire().await,
            Caller::SimulatorApi => {
                if let Ok(permit) = self.reserved.try_acquire() {
                    return Ok(permit);
                }
                if let Ok(permit) = self.shared.try_acquire() {
                    return Ok(permit);
                }
                tokio::select! {
                    permit = self.reserved.acquire() => permit,
                    permit = self.shared.acquire() => permit,
                }
            }
        }
    }

    fn observe(&self, caller: Caller, waited: Duration, refused: bool) {
        if let Some(observer) = &self.observer {
            observer(HashEvent {
                caller,
                waited,
                refused,
            });
        }
    }
}

fn hash_with(
    argon2: &Argon2<'_>,
    password: &str,
    memory: &mut [Block],
) -> Result<PasswordHash, Error> {
    let failed =
        |err: &dyn std::fmt::Display| Error::Internal(format!("hashing failed: {err}").into());
    let mut salt = [0u8; SALT_BYTES];
    OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|err| Error::Internal(Box::new(err)))?;
    let mut out = [0u8; OUTPUT_BYTES];
    argon2
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
        .map_err(|err| failed(&err))?;
    let salt = SaltString::encode_b64(&salt).map_err(|err| failed(&err))?;
    let phc = argon2::PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: argon2.params().try_into().map_err(|err| failed(&err))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|err| failed(&err))?),
    };
    Ok(PasswordHash::from_phc(phc.to_string()))
}

/// Whether `password` matches the PHC string `phc`, computed in `memory`.
/// A string that does not parse, or asks for more memory than a slot has,
/// matches nothing.
fn verify_with(password: &str, phc: &str, memory: &mut [Block]) -> bool {
    let Ok(parsed) = argon2::PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|version| Version::try_from(version).ok())
        .unwrap_or_default();
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    if params.block_count() > memory.len() {
        tracing::warn!(
            blocks = params.block_count(),
            "a stored password hash asks for more memory than a hash slot has"
        );
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory)
        .is_ok()
        && Output::new(&out).is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests;
