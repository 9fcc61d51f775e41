//! A deeper accept queue for the sockets Rocket listens on.
//!
//! Rocket 0.5 binds its socket itself, with the standard library's backlog
//! of 128 pending connections, and offers no way to pass a socket of our
//! own. A burst of more new connections than that (a script opening 300
//! connections at once to flood the sign-in page) fills the queue faster
//! than busy workers accept, and the kernel drops the handshakes that do not
//! fit: those clients, an honest simulator request among them, send again
//! only after a second. Linux lets `listen` be called again on a listening
//! socket to change its backlog, so once Rocket listens (at liftoff), the
//! fairing below finds that socket among the process' descriptors (through
//! a duplicate made with `pidfd_getfd`, which needs no unsafe code), and
//! calls `listen` on it with [`BACKLOG`]. The kernel caps the figure at
//! `net.core.somaxconn` (4096 by default since Linux 5.4).
//!
//! Linux only (elsewhere [`deepen_accept_queue`] changes nothing). Where
//! it is not possible (a kernel older than 5.6, a sandbox that forbids
//! `pidfd_getfd`), the server says so once and keeps the default queue;
//! `MINITWIT_API_PORT` then keeps the simulator's connections out of the
//! site's queue.

use rocket::{Build, Rocket};

/// The accept queue asked for; the kernel caps it at `net.core.somaxconn`.
pub const BACKLOG: i32 = 4096;

/// Makes `rocket` deepen the accept queue of the socket it listens on once
/// it listens (see the module docs).
#[cfg(target_os = "linux")]
pub fn deepen_accept_queue(rocket: Rocket<Build>) -> Rocket<Build> {
    rocket.attach(rocket::fairing::AdHoc::on_liftoff(
        "MiniTwit accept queue",
        |rocket| {
            Box::pin(async move {
                let address =
                    std::net::SocketAddr::new(rocket.config().address, rocket.config().port);
                match deepen(address) {
                    Ok(()) => tracing::debug!(%address, backlog = BACKLOG, "accept queue deepened"),
                    Err(reason) => tracing::warn!(
                        %address,
                        "cannot deepen the accept queue ({reason}): a burst of more than 128 new \
                         connections at once may make some wait a second; MINITWIT_API_PORT keeps \
                         the simulator API's connections apart"
                    ),
                }
            })
        },
    ))
}

/// Elsewhere the default queue stays (see the module docs).
#[cfg(not(target_os = "linux"))]
pub fn deepen_accept_queue(rocket: Rocket<Build>) -> Rocket<Build> {
    rocket
}

#[cfg(target_os = "linux")]
fn deepen(address: std::net::SocketAddr) -> Result<(), String> {
    use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};

    let me =
        pidfd_open(getpid(), PidfdFlags::empty()).map_err(|err| format!("pidfd_open: {err}"))?;
    let descriptors = std::fs::read_dir("/proc/self/fd")
        .map_err(|err| format!("cannot list /proc/self/fd: {err}"))?;
    let mut denied = None;
    for entry in descriptors.flatten() {
        let Some(number) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse().ok())
        else {
            continue;
        };
        // A duplicate shares the socket, so `listen` on it changes the
        // original's queue; it is closed when dropped.
        let socket = match pidfd_getfd(&me, number, PidfdGetfdFlags::empty()) {
            Ok(socket) => socket,
            // Descriptors close while we look (read_dir's own among them).
            Err(rustix::io::Errno::BADF) => continue,
            Err(err) => {
                denied = Some(format!("pidfd_getfd: {err}"));
                continue;
            }
        };
        let listening = rustix::net::sockopt::socket_acceptconn(&socket).unwrap_or(false);
        let bound = rustix::net::getsockname(&socket)
            .ok()
            .and_then(|bound| std::net::SocketAddr::try_from(bound).ok());
        if listening && bound == Some(address) {
            return rustix::net::listen(&socket, BACKLOG).map_err(|err| format!("listen: {err}"));
        }
    }
    Err(denied.unwrap_or_else(|| "no listening socket has that address".to_owned()))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    use super::*;

    /// More connections than the standard library's 128 complete their
    /// handshake against a socket that accepts none of them, once deepened.
    #[test]
    fn a_deepened_socket_queues_more_than_128_connections() {
        // The kernel caps every backlog at net.core.somaxconn.
        let cap: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        if cap < 300 {
            eprintln!("skipped: net.core.somaxconn is {cap}, below the 300 connections tried");
            return;
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        if let Err(reason) = deepen(address) {
            // A sandbox may forbid duplicating descriptors: the server then
            // warns and keeps the default queue, which is all it can do.
            assert!(reason.starts_with("pidfd_"), "{reason}");
            eprintln!("skipped: this system does not let the process do it: {reason}");
            return;
        }
        let connected: Vec<TcpStream> = (0..300)
            .map(|n| {
                TcpStream::connect_timeout(&address, Duration::from_secs(2))
                    .unwrap_or_else(|err| panic!("connection {n}: {err}"))
            })
            .collect();
        assert_eq!(connected.len(), 300);
    }

    #[test]
    fn an_address_nobody_listens_on_is_reported() {
        let free = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = deepen(free).unwrap_err();
        // Or, in a sandbox that forbids it, why nothing could be looked at.
        assert!(
            err.contains("no listening socket") || err.starts_with("pidfd_"),
            "{err}"
        );
    }
}
