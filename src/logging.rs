//! Logging through `tracing` to standard error: human-readable text, or
//! JSON lines with `MINITWIT_LOG_FORMAT=json`; filtered by `MINITWIT_LOG`.
//! Lines go through a background writer, so a slow terminal or pipe never
//! holds up a request (under extreme load, lines are dropped rather than
//! requests delayed).

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The log filter without `MINITWIT_LOG`: our own information (one line per
/// request included), but only warnings from Rocket and its template
/// engine, whose start-up report would be most of the output, and only
/// errors from Rocket's launch and request handling (our banner and request
/// lines say it better).
pub const DEFAULT_FILTER: &str =
    "info,rocket=warn,rocket::launch=error,rocket::server=error,rocket_dyn_templates=warn";

/// Targets whose lines below `info` carry secrets, kept at `info` whatever
/// `MINITWIT_LOG` asks for: Rocket's server logs every request and response
/// with all its headers (`Authorization`, `Cookie`, `Set-Cookie`) at debug,
/// and its form parser every field (passwords included) at trace.
const SECRET_BEARING: [&str; 2] = ["rocket::server", "rocket::form"];

/// A filter that caps the [`SECRET_BEARING`] targets at `info` and lets
/// everything else through to the `MINITWIT_LOG` filter.
fn secret_guard() -> Targets {
    SECRET_BEARING.into_iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |targets, target| targets.with_target(target, LevelFilter::INFO),
    )
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For people (colours on a terminal).
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Logging as configured, or what is wrong with the configuration.
pub struct Logging {
    /// The format in use.
    pub format: Format,
    /// Flushes the background writer when dropped: keep it until exit.
    _guard: WorkerGuard,
}

/// Reads `MINITWIT_LOG` and `MINITWIT_LOG_FORMAT` and installs the
/// subscriber.
///
/// # Errors
/// A filter or format that does not parse, with what to write instead.
pub fn init() -> Result<Logging, String> {
    let filter = match std::env::var("MINITWIT_LOG") {
        Ok(raw) if !raw.trim().is_empty() => EnvFilter::try_new(&raw).map_err(|err| {
            format!(
                "MINITWIT_LOG={raw:?} is not a log filter ({err}); write a level such as \
                 `info` or `debug`, or directives such as `warn,minitwit=debug`"
            )
        })?,
        _ => EnvFilter::new(DEFAULT_FILTER),
    };
    let format = match std::env::var("MINITWIT_LOG_FORMAT").as_deref() {
        Ok("json") => Format::Json,
        Ok("text") | Err(_) => Format::Text,
        Ok(other) => {
            return Err(format!(
                "MINITWIT_LOG_FORMAT={other:?} is not a log format: write text or json"
            ));
        }
    };
    let most_verbose = filter.max_level_hint();
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    // Another subscriber (in tests) is fine: keep it.
    let installed = match format {
        Format::Json => builder
            .json()
            .flatten_event(true)
            .finish()
            .with(secret_guard())
            .try_init(),
        Format::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .finish()
            .with(secret_guard())
            .try_init(),
    };
    if installed.is_ok() {
        log::set_max_level(log_level_for(most_verbose));
    }
    Ok(Logging {
        format,
        _guard: guard,
    })
}

/// The level below which `log` records (Rocket's, sled's) are not even
/// made: the most verbose level the filter lets through.
///
/// Installing the subscriber sets it from the whole subscriber's hint, which
/// the secret guard (a filter that lets everything else through) makes
/// `TRACE`: every debug line Rocket writes per request was then built and
/// handed to the filter to be dropped, a measurable share of a request's
/// CPU time.
fn log_level_for(most_verbose: Option<LevelFilter>) -> log::LevelFilter {
    match most_verbose {
        Some(LevelFilter::OFF) => log::LevelFilter::Off,
        Some(LevelFilter::ERROR) => log::LevelFilter::Error,
        Some(LevelFilter::WARN) => log::LevelFilter::Warn,
        Some(LevelFilter::INFO) => log::LevelFilter::Info,
        Some(LevelFilter::DEBUG) => log::LevelFilter::Debug,
        Some(_) | None => log::LevelFilter::Trace,
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::filter::LevelFilter;

    use super::{DEFAULT_FILTER, log_level_for, secret_guard};

    #[test]
    fn log_records_below_the_filter_are_not_even_made() {
        let level = |filter: &str| log_level_for(EnvFilter::new(filter).max_level_hint());
        assert_eq!(level("warn"), log::LevelFilter::Warn);
        assert_eq!(level(DEFAULT_FILTER), log::LevelFilter::Info);
        assert_eq!(level("warn,minitwit=debug"), log::LevelFilter::Debug);
        assert_eq!(level("off"), log::LevelFilter::Off);
        assert_eq!(
            log_level_for(Some(LevelFilter::TRACE)),
            log::LevelFilter::Trace
        );
        assert_eq!(log_level_for(None), log::LevelFilter::Trace);
    }

    #[test]
    fn rocket_headers_and_form_fields_stay_out_of_the_log() {
        let guard = secret_guard();
        assert!(!guard.would_enable("rocket::server", &Level::DEBUG));
        assert!(!guard.would_enable("rocket::form::parser", &Level::TRACE));
        assert!(guard.would_enable("rocket::server", &Level::INFO));
        assert!(guard.would_enable("minitwit::request", &Level::TRACE));
        assert!(guard.would_enable("rocket::launch", &Level::DEBUG));
    }
}
