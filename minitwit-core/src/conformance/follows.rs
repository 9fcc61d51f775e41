//! Checks of follows: a set per follower, listed in id order, consistent
//! under concurrent changes.

use std::sync::Arc;

use super::support::{Must, all_at_once, create};
use crate::{Store, User, UserId};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn ids(users: &[User]) -> Vec<u64> {
    users.iter().map(|user| user.id.0).collect()
}

/// Following twice or unfollowing someone not followed changes nothing, and
/// the answers say so; a follow has a direction.
pub async fn follows_are_a_set(store: &Arc<dyn Store>) {
    let ada = create(store, "Ada").await;
    let bob = create(store, "Bob").await;
    let cy = create(store, "Cy").await;

    let following = |a: UserId, b: UserId| async move {
        store
            .is_following(a, b)
            .await
            .must(format_args!("is_following({}, {})", a.0, b.0))
    };

    assert!(
        !following(ada.id, bob.id).await,
        "store contract: nobody follows anyone yet"
    );
    assert!(
        !store.unfollow(ada.id, bob.id).await.must("unfollow"),
        "store contract: unfollowing someone not followed must return false"
    );
    assert!(
        store.follow(ada.id, bob.id).await.must("follow"),
        "store contract: a new follow must return true"
    );
    assert!(
        following(ada.id, bob.id).await,
        "store contract: the follow was not recorded"
    );
    assert!(
        !store.follow(ada.id, bob.id).await.must("follow"),
        "store contract: following twice must return false the second time"
    );
    assert!(
        following(ada.id, bob.id).await,
        "store contract: a second follow undid the first"
    );
    assert!(
        !following(bob.id, ada.id).await,
        "store contract: a follow has a direction; Bob does not follow Ada"
    );
    assert!(
        !following(ada.id, cy.id).await,
        "store contract: Ada does not follow Cy"
    );
    assert_eq!(
        ids(&store.followees(ada.id, 10).await.must("followees")),
        vec![bob.id.0],
        "store contract: following twice must list the followee once"
    );

    assert!(
        store.unfollow(ada.id, bob.id).await.must("unfollow"),
        "store contract: unfollowing someone followed must return true"
    );
    assert!(
        !following(ada.id, bob.id).await,
        "store contract: the unfollow was not recorded"
    );
    assert!(
        !store.unfollow(ada.id, bob.id).await.must("unfollow"),
        "store contract: unfollowing twice must return false the second time"
    );
    assert!(
        store
            .followees(ada.id, 10)
            .await
            .must("followees")
            .is_empty(),
        "store contract: an unfollowed user is still listed"
    );
    assert!(
        store.follow(ada.id, bob.id).await.must("follow"),
        "store contract: following again after an unfollow must return true"
    );
    assert!(
        following(ada.id, bob.id).await,
        "store contract: the re-follow was not recorded"
    );
}

/// `followees` lists the followed users in ascending id order, whatever the
/// order they were followed in, and at most `limit` of them.
pub async fn followees_are_listed_in_ascending_id_order_up_to_the_limit(store: &Arc<dyn Store>) {
    let fan = create(store, "fan").await;
    let other = create(store, "other fan").await;
    let mut stars = Vec::new();
    for n in 0..7 {
        stars.push(create(store, &format!("star {n}")).await);
    }
    for &n in &[4, 0, 6, 2, 5, 1, 3] {
        assert!(store.follow(fan.id, stars[n].id).await.must("follow"));
    }
    assert!(store.follow(other.id, stars[3].id).await.must("follow"));

    let mut expected = stars.clone();
    expected.sort_by_key(|user| user.id);
    let all = store.followees(fan.id, 100).await.must("followees");
    assert_eq!(
        ids(&all),
        ids(&expected),
        "store contract: followees must be every followed user in ascending id order"
    );
    assert_eq!(
        all, expected,
        "store contract: followees must return the users as created"
    );

    for limit in [0, 1, 3, 7, 8] {
        let some = store.followees(fan.id, limit).await.must("followees");
        assert_eq!(
            ids(&some),
            ids(&expected[..limit.min(expected.len())]),
            "store contract: followees(limit = {limit}) must be the first {limit} by id"
        );
    }

    assert!(
        store
            .unfollow(fan.id, expected[2].id)
            .await
            .must("unfollow")
    );
    let mut remaining = expected.clone();
    remaining.remove(2);
    assert_eq!(
        ids(&store.followees(fan.id, 100).await.must("followees")),
        ids(&remaining),
        "store contract: an unfollowed user must leave the followee list"
    );
    assert_eq!(
        ids(&store.followees(other.id, 100).await.must("followees")),
        vec![stars[3].id.0],
        "store contract: followee lists of different users must be separate"
    );
    assert!(
        store
            .followees(stars[0].id, 100)
            .await
            .must("followees")
            .is_empty(),
        "store contract: being followed must not make a user follow anyone"
    );
}

/// Many tasks follow and unfollow one pair at once. Each call's `changed`
/// answer must fit a serial order: starting from "not following", changed
/// follows and changed unfollows alternate, so their counts differ by 0 or
/// 1, and that difference is the final state.
pub async fn concurrent_follow_and_unfollow_of_one_pair_serialize(store: &Arc<dyn Store>) {
    const TASKS: usize = 16;
    const OPS_PER_TASK: usize = 25;
    let a = create(store, "storm follower").await;
    let b = create(store, "storm followee").await;
    for round in 0..3u64 {
        let counts = all_at_once(store, TASKS, |store, task| {
            let (a, b) = (a.id, b.id);
            async move {
                let mut rng = StdRng::seed_from_u64(round * 1000 + task as u64);
                let (mut followed, mut unfollowed) = (0i64, 0i64);
                for _ in 0..OPS_PER_TASK {
                    if rng.gen_bool(0.5) {
                        if store.follow(a, b).await.must("follow") {
                            followed += 1;
                        }
                    } else if store.unfollow(a, b).await.must("unfollow") {
                        unfollowed += 1;
                    }
                }
                (followed, unfollowed)
            }
        })
        .await;
        let followed: i64 = counts.iter().map(|(f, _)| f).sum();
        let unfollowed: i64 = counts.iter().map(|(_, u)| u).sum();
        let following = store.is_following(a.id, b.id).await.must("is_following");
        let net = followed - unfollowed;
        assert!(
            net == 0 || net == 1,
            "store contract: concurrent follow/unfollow must serialize: {followed} follows and \
             {unfollowed} unfollows reported a change, no serial order does that"
        );
        assert_eq!(
            net == 1,
            following,
            "store contract: concurrent follow/unfollow must serialize: {followed} changed \
             follows and {unfollowed} changed unfollows leave the pair {}following, but \
             is_following says {following}",
            if net == 1 { "" } else { "not " }
        );
        let listed = store.followees(a.id, 10).await.must("followees");
        assert_eq!(
            ids(&listed),
            if following { vec![b.id.0] } else { vec![] },
            "store contract: followees disagrees with is_following after concurrent changes"
        );
        // Start the next round from "not following" again.
        if following {
            assert!(store.unfollow(a.id, b.id).await.must("unfollow"));
        }
    }
}

/// Sixteen tasks make one user follow sixteen others at once: all sixteen
/// follows are kept (no lost update in the follower's index).
pub async fn concurrent_follows_of_many_users_are_all_kept(store: &Arc<dyn Store>) {
    const TASKS: usize = 16;
    let fan = create(store, "busy fan").await;
    let mut stars = Vec::new();
    for n in 0..TASKS {
        stars.push(create(store, &format!("popular {n}")).await);
    }
    let changes = all_at_once(store, TASKS, |store, task| {
        let (fan, star) = (fan.id, stars[task].id);
        async move { store.follow(fan, star).await.must("follow") }
    })
    .await;
    assert!(
        changes.iter().all(|changed| *changed),
        "store contract: each distinct new follow must return true"
    );
    let mut expected = ids(&stars);
    expected.sort_unstable();
    assert_eq!(
        ids(&store.followees(fan.id, 100).await.must("followees")),
        expected,
        "store contract: concurrent follows by one user were lost"
    );

    // And the same for unfollows of half of them.
    let dropped: Vec<UserId> = stars.iter().step_by(2).map(|star| star.id).collect();
    let changes = all_at_once(store, dropped.len(), |store, task| {
        let (fan, star) = (fan.id, dropped[task]);
        async move { store.unfollow(fan, star).await.must("unfollow") }
    })
    .await;
    assert!(
        changes.iter().all(|changed| *changed),
        "store contract: each unfollow of a followed user must return true"
    );
    let mut expected: Vec<u64> = stars.iter().skip(1).step_by(2).map(|s| s.id.0).collect();
    expected.sort_unstable();
    assert_eq!(
        ids(&store.followees(fan.id, 100).await.must("followees")),
        expected,
        "store contract: concurrent unfollows by one user were lost"
    );
}
