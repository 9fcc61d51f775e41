//! End to end: the real `minitwit` binary on a sled directory, driven over
//! HTTP by a generated scenario in the simulator's file format; then every
//! user's follows and messages are compared with what the scenario implies,
//! before and after a restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use minitwit_sim_api::scenario::{
    self, GeneratorConfig, ReplayOptions, read_scenario, replay, write_scenario,
};
use minitwit_sim_api::{ClientError, SimClient};
use support::Server;

fn generated_scenario(dir: &std::path::Path) -> Vec<scenario::Action> {
    let actions = scenario::generate(GeneratorConfig {
        users: 150,
        actions: 2_500,
        seed: 2026,
    });
    // Through the file format, as the simulator reads it.
    let path = dir.join("scenario.tsv");
    write_scenario(std::fs::File::create(&path).unwrap(), &actions).unwrap();
    let read = read_scenario(std::io::BufReader::new(std::fs::File::open(&path).unwrap())).unwrap();
    assert!(
        read == actions,
        "the scenario file does not read back as written"
    );
    read
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_scenario_is_stored_exactly_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let actions = generated_scenario(dir.path());
    let store = format!("sled:{}", dir.path().join("data").display());
    let mut server = Server::start(&store, dir.path());

    // One connection per request, as the simulator does.
    let client = SimClient::builder(server.api())
        .one_connection_per_request(true)
        .build()
        .unwrap();
    assert_eq!(
        client.latest().await.unwrap(),
        -1,
        "a new store has no latest"
    );

    let report = replay(
        std::slice::from_ref(&client),
        &actions,
        ReplayOptions::default(),
    )
    .await;
    support::assert_clean_replay("replayed", &report, actions.len());
    let expected = report.expected;
    assert!(expected.users.len() > 100 && expected.message_count() > 1_000);
    assert!(
        expected
            .users
            .keys()
            .any(|name| name.contains(' ') && !name.is_ascii())
    );
    support::assert_holds(&client, &expected, "after the replay").await;

    let status = server.terminate();
    assert!(
        status.success(),
        "SIGTERM should end the server with 0, got {status}:\n{}",
        server.log()
    );
    server.restart();
    support::assert_holds(&client, &expected, "after a restart").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_answered_204_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sled:{}", dir.path().join("data").display());
    let mut server = Server::start(&store, dir.path());
    let client = SimClient::new(&server.api()).unwrap();

    client
        .register("Kill Me", "k@example.org", "pw", Some(1))
        .await
        .unwrap();
    client
        .register("Zoë", "z@example.org", "pw", Some(2))
        .await
        .unwrap();
    client.follow("Kill Me", "Zoë", Some(3)).await.unwrap();
    let mut id = 3;
    for n in 0..200 {
        id += 1;
        client
            .post_message("Kill Me", &format!("message {n}"), Some(id))
            .await
            .unwrap();
    }
    // No shutdown code runs: only what was durable when each 204 left the
    // server can be there.
    server.kill();
    server.restart();

    let client = SimClient::new(&server.api()).unwrap();
    assert_eq!(client.latest().await.unwrap(), id);
    assert_eq!(
        client.follows("Kill Me", None, None).await.unwrap(),
        ["Zoë"]
    );
    let messages = client
        .user_messages("Kill Me", Some(1_000), None)
        .await
        .unwrap();
    let texts: Vec<String> = messages.into_iter().rev().map(|m| m.content).collect();
    let posted: Vec<String> = (0..200).map(|n| format!("message {n}")).collect();
    assert_eq!(texts, posted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_prefix_and_credential_are_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        "memory:",
        dir.path(),
        &[
            ("MINITWIT_API_PREFIX", "/sim"),
            ("MINITWIT_API_USER", "robot"),
            ("MINITWIT_API_PASSWORD", "s3cret"),
        ],
    );
    let base = format!("{}/sim", server.site());
    let default_credential = SimClient::new(&base).unwrap();
    let err = default_credential
        .register("a", "a@b", "pw", None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    let client = SimClient::builder(base)
        .credential("robot", "s3cret")
        .build()
        .unwrap();
    client.register("a", "a@b", "pw", Some(7)).await.unwrap();
    assert_eq!(client.latest().await.unwrap(), 7);
    // The default prefix is not served: the site answers there instead,
    // with its own HTML "not found" page.
    let old = SimClient::new(&server.api()).unwrap();
    match old.latest().await {
        Err(ClientError::Api { status, error_msg }) => {
            assert_eq!(status, 404);
            assert!(error_msg.trim_start().starts_with('<'), "{error_msg}");
        }
        other => panic!("expected the site's 404 page, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_can_also_have_a_port_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let api_port = support::free_port();
    // The release profile is where Rocket insists on a secret key.
    let server = Server::start_with(
        "memory:",
        dir.path(),
        &[
            ("MINITWIT_API_PORT", &api_port.to_string()),
            ("ROCKET_PROFILE", "release"),
        ],
    );
    let own_port = SimClient::new(&format!("http://127.0.0.1:{api_port}")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while own_port.latest().await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "no API on its own port:\n{}",
            server.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    own_port
        .register("Ann", "ann@example.org", "pw", Some(3))
        .await
        .unwrap();
    // One store behind both: the prefixed API sees the same state.
    let prefixed = SimClient::new(&server.api()).unwrap();
    assert_eq!(prefixed.latest().await.unwrap(), 3);
    prefixed
        .post_message("Ann", "hello", Some(4))
        .await
        .unwrap();
    let messages = own_port.user_messages("Ann", None, None).await.unwrap();
    assert_eq!(messages[0].content, "hello");
}
