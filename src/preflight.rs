//! What `minitwit serve` checks before it creates anything, and how it says
//! what is wrong: which setting, which value, where it came from, and what
//! to do.

use std::net::IpAddr;

use anyhow::anyhow;
use rocket::figment::Figment;

use crate::settings::Settings;

/// Rocket's own configuration (address, port, workers, ...), checked.
///
/// # Errors
/// Each setting that does not read, named with its value and source.
pub fn rocket_config(figment: &Figment) -> anyhow::Result<rocket::Config> {
    rocket::Config::try_from(figment).map_err(|err| describe(figment, &err))
}

/// MiniTwit's settings, checked.
///
/// # Errors
/// Each setting that does not read, named with its value and source.
pub fn settings(figment: &Figment) -> anyhow::Result<Settings> {
    let settings =
        Settings::load(figment).map_err(|err| describe(&figment.focus("minitwit"), &err))?;
    check_api_prefix(&settings.api_prefix)?;
    Ok(settings)
}

/// The API prefix must be a plain path, and not the root: the site owns the
/// root of the main port (`MINITWIT_API_PORT` serves the API at a root of
/// its own).
fn check_api_prefix(prefix: &str) -> anyhow::Result<()> {
    let config = minitwit_sim_api::ApiConfig::default().with_prefix(prefix);
    let normalized = config
        .normalized_prefix()
        .map_err(|err| anyhow!("the setting MINITWIT_API_PREFIX is invalid: {err}"))?;
    if normalized == "/" {
        return Err(anyhow!(
            "the setting MINITWIT_API_PREFIX is \"{prefix}\", the root, which the site uses; \
             pick a path such as /api, or set MINITWIT_API_PORT to serve the API at the root \
             of a port of its own"
        ));
    }
    Ok(())
}

/// One line per setting that does not read: the key, the value, where it
/// came from (the variable, or the file), and what was expected.
fn describe(figment: &Figment, err: &rocket::figment::Error) -> anyhow::Error {
    let problems: Vec<String> = err
        .clone()
        .into_iter()
        .map(|problem| {
            let key = problem.path.last().cloned().unwrap_or_default();
            let source = match problem.metadata.as_ref() {
                // "`ROCKET_` environment variable(s)": name the variable.
                Some(metadata) if metadata.name.contains("environment variable") => {
                    let prefix = metadata.name.split('`').nth(1).unwrap_or_default();
                    format!("{prefix}{} (an environment variable)", key.to_uppercase())
                }
                // A file: name it, not just its kind.
                Some(metadata) => match metadata.source.as_ref() {
                    Some(source) => format!("`{key}` (in {source})"),
                    None => format!("`{key}` (in {})", metadata.name),
                },
                None => format!("`{key}`"),
            };
            let reason = problem.kind.to_string();
            // The value, when the reason does not already show it.
            let value = figment
                .find_value(&problem.path.join("."))
                .ok()
                .map(|value| value.to_actual().to_string())
                .filter(|value| !reason.contains(value.as_str()))
                .map(|value| format!(" ({value})"))
                .unwrap_or_default();
            let advice = match key.as_str() {
                "port" => "; use a number from 1 to 65535",
                "address" => "; use an IP address such as 127.0.0.1 or 0.0.0.0",
                _ => "",
            };
            format!("the setting {source} is invalid: {reason}{value}{advice}")
        })
        .collect();
    anyhow!(problems.join("\n"))
}

/// Checks that the server can listen where it is told to, before the store
/// is opened (or created).
///
/// # Errors
/// The address in use, or not this machine's, or a port that needs
/// privileges: said the way [`launch_error`] says it.
pub fn check_listening(config: &rocket::Config) -> anyhow::Result<()> {
    match std::net::TcpListener::bind((config.address, config.port)) {
        Ok(_) => Ok(()),
        Err(err) => Err(bind_error(&err, config)),
    }
}

/// Warns when the simulator API takes the well-known default credential on
/// an address other than loopback: anyone who reaches the port can use it.
pub fn warn_about_default_credential(settings: &Settings, config: &rocket::Config) {
    let default = settings.api_user == minitwit_sim_api::DEFAULT_USERNAME
        && settings.api_password == minitwit_sim_api::DEFAULT_PASSWORD;
    if default && !is_loopback(config.address) {
        tracing::warn!(
            address = %config.address,
            "the simulator API accepts the default credential (simulator / super_safe!) on an \
             address other than loopback: set MINITWIT_API_USER and MINITWIT_API_PASSWORD"
        );
    }
}

fn is_loopback(address: IpAddr) -> bool {
    address.is_loopback()
}

/// What went wrong when the server tried to start, in words that say what
/// to do.
pub fn launch_error(err: &rocket::Error, config: &rocket::Config) -> anyhow::Error {
    match err.kind() {
        rocket::error::ErrorKind::Bind(io) => bind_error(io, config),
        _ => anyhow!("the server failed: {err}"),
    }
}

/// Why the server cannot listen, and what to do.
fn bind_error(io: &std::io::Error, config: &rocket::Config) -> anyhow::Error {
    {
        {
            let place = format!("{}:{}", config.address, config.port);
            let hint = match io.kind() {
                std::io::ErrorKind::AddrInUse => format!(
                    "another program listens on {place}: stop it, or choose another port \
                     with --port, ROCKET_PORT or `port` in Rocket.toml"
                ),
                std::io::ErrorKind::PermissionDenied => format!(
                    "port {} needs privileges: choose a port above 1023 with --port or \
                     ROCKET_PORT",
                    config.port
                ),
                std::io::ErrorKind::AddrNotAvailable => format!(
                    "{} is not an address of this machine: choose another with --address or \
                     ROCKET_ADDRESS",
                    config.address
                ),
                _ => "check --address/ROCKET_ADDRESS and --port/ROCKET_PORT".to_owned(),
            };
            anyhow!("cannot listen on {place}: {io}; {hint}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_prefixes_are_checked_before_anything_starts() {
        assert!(check_api_prefix("/api").is_ok());
        assert!(check_api_prefix("/sim/v2/").is_ok());
        for bad in ["/", "api", "/a/../b", "/x?y"] {
            let err = check_api_prefix(bad).err().map(|err| err.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|err| err.contains("MINITWIT_API_PREFIX")),
                "{bad}: {err:?}"
            );
        }
    }
}
