//! Unit tests of password hashing: costs, slots, lanes, deadlines, pooled
//! memory.

use super::*;

fn hasher(cost: HashCost, slots: usize) -> Result<PasswordHasher, Error> {
    PasswordHasher::new(cost, HashLimits::for_slots(slots), None)
}

/// Takes one of the slots the site may use, as a hash in progress would.
async fn hold_a_shared_slot(hasher: &PasswordHasher) -> Result<SemaphorePermit<'_>, Error> {
    hasher
        .inner
        .shared
        .acquire()
        .await
        .map_err(|err| Error::Internal(Box::new(err)))
}

#[tokio::test]
async fn owasp_hashes_are_argon2id_and_verify() -> Result<(), Error> {
    let hasher = hasher(HashCost::OWASP, 2)?;
    let hash = hasher
        .hash(&Password::parse("correct horse")?, Caller::Site)
        .await?;
    assert!(hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert_verifies_only(&hasher, &hash, "correct horse", "wrong horse").await?;
    assert!(!hasher.verify("correct horse", None, Caller::Site).await?);
    Ok(())
}

#[tokio::test]
async fn hashes_made_by_the_argon2_crate_itself_verify() -> Result<(), Error> {
    use argon2::password_hash::PasswordHasher as _;
    let salt = SaltString::generate(&mut OsRng);
    let made_elsewhere = Argon2::default()
        .hash_password(b"older hash", &salt)
        .map(|hash| PasswordHash::from_phc(hash.to_string()))
        .map_err(|err| Error::Internal(err.to_string().into()))?;
    let hasher = hasher(HashCost::OWASP, 2)?;
    assert_verifies_only(&hasher, &made_elsewhere, "older hash", "other").await
}

/// `hash` verifies `right` and not `wrong`.
async fn assert_verifies_only(
    hasher: &PasswordHasher,
    hash: &PasswordHash,
    right: &str,
    wrong: &str,
) -> Result<(), Error> {
    assert!(hasher.verify(right, Some(hash), Caller::Site).await?);
    assert!(!hasher.verify(wrong, Some(hash), Caller::Site).await?);
    Ok(())
}

#[tokio::test]
async fn same_password_gets_different_salts() -> Result<(), Error> {
    let hasher = hasher(HashCost::INSECURE_MINIMUM, 2)?;
    let password = Password::parse("pw")?;
    assert_ne!(
        hasher.hash(&password, Caller::Site).await?,
        hasher.hash(&password, Caller::Site).await?
    );
    Ok(())
}

#[tokio::test]
async fn a_garbled_stored_hash_never_matches() -> Result<(), Error> {
    let hasher = hasher(HashCost::INSECURE_MINIMUM, 1)?;
    for garbled in [
        "not a phc string",
        "$argon2id$v=19$m=999999999,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
        "$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaA",
    ] {
        let garbled = PasswordHash::from_phc(garbled.into());
        assert!(!hasher.verify("pw", Some(&garbled), Caller::Site).await?);
    }
    Ok(())
}

/// With every shared slot busy and the site's queue full, a site
/// request is refused at once; an API request still gets its reserved
/// slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_site_cannot_take_the_apis_slot_and_its_queue_is_bounded() -> Result<(), Error> {
    let limits = HashLimits {
        slots: 2,
        reserved_for_api: 1,
        api_max_waiting: 1,
        site_max_waiting: 1,
        api_max_wait: Duration::from_secs(5),
        site_max_wait: Duration::from_secs(5),
    };
    let hasher = PasswordHasher::new(HashCost::INSECURE_MINIMUM, limits, None)?;
    // Hold the shared slot, and fill the site's queue.
    let held = hold_a_shared_slot(&hasher).await?;
    let waiting = {
        let hasher = hasher.clone();
        tokio::spawn(async move {
            let password = Password::parse("queued")?;
            hasher.hash(&password, Caller::Site).await
        })
    };
    while hasher.load(Caller::Site).waiting == 0 {
        tokio::task::yield_now().await;
    }
    let refused = hasher
        .hash(&Password::parse("one too many")?, Caller::Site)
        .await;
    assert!(matches!(refused, Err(Error::Busy)), "{refused:?}");
    assert_eq!(hasher.load(Caller::Site).refused, 1);
    // The API's reserved slot is free.
    hasher
        .hash(&Password::parse("registration")?, Caller::SimulatorApi)
        .await?;
    drop(held);
    waiting
        .await
        .map_err(|err| Error::Internal(Box::new(err)))??;
    assert_eq!(hasher.load(Caller::Site).done, 1);
    assert_eq!(hasher.load(Caller::SimulatorApi).done, 1);
    Ok(())
}

#[tokio::test]
async fn waiting_past_the_deadline_is_refused() -> Result<(), Error> {
    let limits = HashLimits {
        site_max_wait: Duration::from_millis(20),
        ..HashLimits::for_slots(2)
    };
    let events = Arc::new(Mutex::new(Vec::new()));
    let observer: HashObserver = Arc::new({
        let events = Arc::clone(&events);
        move |event| {
            events
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(event);
        }
    });
    let hasher = PasswordHasher::new(HashCost::INSECURE_MINIMUM, limits, Some(observer))?;
    let held = hold_a_shared_slot(&hasher).await?;
    let refused = hasher.verify("pw", None, Caller::Site).await;
    assert!(matches!(refused, Err(Error::Busy)), "{refused:?}");
    drop(held);
    let events = events
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert_eq!(events.len(), 1);
    assert!(events[0].refused && events[0].waited >= Duration::from_millis(20));
    Ok(())
}
