//! `GET /admin/backup`: a backup streamed by the running server, for
//! `minitwit backup --server` (a sled directory can be open in one process
//! only). Offered only when `MINITWIT_ADMIN_TOKEN` is set; the request must
//! carry `Authorization: Bearer TOKEN`, compared in constant time.

use std::io::{self, Write};

use minitwit_core::MiniTwit;
use rocket::fairing::AdHoc;
use rocket::http::{ContentType, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::stream::ByteStream;
use rocket::response::{self, Responder};
use rocket::{State, get, routes};
use subtle::ConstantTimeEq as _;
use tokio::sync::mpsc;

use super::stream::write_backup;

/// What the endpoint needs.
struct Admin {
    service: MiniTwit,
    token: String,
}

/// Where the route is mounted: with the route's own path, this makes
/// [`ENDPOINT`](super::ENDPOINT).
const ENDPOINT_BASE: &str = "/admin";

/// The stage that mounts the endpoint.
pub fn stage(service: MiniTwit, token: String) -> AdHoc {
    AdHoc::on_ignite("MiniTwit backups", move |rocket| async move {
        rocket
            .manage(Admin { service, token })
            .mount(ENDPOINT_BASE, routes![backup])
    })
}

/// A request that carries the admin token.
struct AdminToken;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AdminToken {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(admin) = req.rocket().state::<Admin>() else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        let given = req
            .headers()
            .get_one("Authorization")
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or_default();
        if bool::from(given.as_bytes().ct_eq(admin.token.as_bytes())) {
            Outcome::Success(Self)
        } else {
            Outcome::Error((Status::Unauthorized, ()))
        }
    }
}

/// Bytes handed to the response in chunks of about this size.
const CHUNK_BYTES: usize = 64 * 1024;

/// The output of the backup writer: chunks sent to the response body. A
/// client that went away makes the next write fail, which stops the backup.
struct Chunks {
    buffer: Vec<u8>,
    sender: mpsc::Sender<Vec<u8>>,
}

impl Chunks {
    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES));
        self.sender
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for Chunks {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// The response: the backup's bytes as they are made.
struct BackupDownload(mpsc::Receiver<Vec<u8>>);

impl<'r> Responder<'r, 'r> for BackupDownload {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'r> {
        let chunks = futures::stream::unfold(self.0, |mut receiver| async move {
            receiver.recv().await.map(|chunk| (chunk, receiver))
        });
        let mut response = ByteStream::from(chunks).respond_to(req)?;
        response.set_header(ContentType::new("application", "gzip"));
        response.set_raw_header(
            "Content-Disposition",
            "attachment; filename=\"minitwit-backup.gz\"",
        );
        response.set_raw_header("Cache-Control", "no-store");
        Ok(response)
    }
}

#[get("/backup")]
fn backup(_token: AdminToken, admin: &State<Admin>) -> BackupDownload {
    let (sender, receiver) = mpsc::channel(4);
    let out = Chunks {
        buffer: Vec::with_capacity(CHUNK_BYTES),
        sender,
    };
    let records = admin.service.export();
    tokio::spawn(async move {
        let hidden = indicatif::ProgressBar::hidden();
        match write_backup(records, out, hidden).await {
            Ok((mut out, summary)) => {
                if let Err(err) = out.flush() {
                    tracing::warn!(error = %err, "a backup download was cut short");
                } else {
                    tracing::info!(
                        users = summary.users,
                        follows = summary.follows,
                        messages = summary.messages,
                        bytes = summary.bytes,
                        "served a backup"
                    );
                }
            }
            // The client sees a cut-off body, which its check refuses.
            Err(err) => tracing::error!(error = %format!("{err:#}"), "a backup download failed"),
        }
    });
    BackupDownload(receiver)
}
