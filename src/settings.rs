//! The application's settings, read the way Rocket reads its own: defaults,
//! then the `[PROFILE.minitwit]` table of `Rocket.toml`, then `MINITWIT_*`
//! environment variables, then command-line flags.

use rocket::figment::Figment;
use rocket::figment::providers::{Env, Serialized};
use serde::{Deserialize, Serialize};

/// Every setting of the `minitwit` server. The README's configuration table
/// lists them with their environment variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `MINITWIT_STORE`: `sled:PATH`, `redis://HOST:PORT[/DB]` or `memory:`.
    pub store: String,
    /// `MINITWIT_API_PREFIX`: where the simulator API is mounted.
    pub api_prefix: String,
    /// `MINITWIT_API_PORT`: also serve the API at the root of this port.
    pub api_port: Option<u16>,
    /// `MINITWIT_API_USER`: the user of the accepted Basic credential.
    pub api_user: String,
    /// `MINITWIT_API_PASSWORD`: the password of the accepted credential.
    pub api_password: String,
    /// `MINITWIT_MAX_NO`: the largest `no` the API honours.
    pub max_no: usize,
    /// `MINITWIT_SLED_CACHE_MB`: sled's page cache bound, in MiB.
    pub sled_cache_mb: u64,
    /// `MINITWIT_REDIS_NAMESPACE`: prefix of every Redis key.
    pub redis_namespace: String,
    /// `MINITWIT_REDIS_CONNECT_TIMEOUT_MS`: Redis connection timeout.
    pub redis_connect_timeout_ms: u64,
    /// `MINITWIT_REDIS_RESPONSE_TIMEOUT_MS`: Redis per-command timeout.
    pub redis_response_timeout_ms: u64,
    /// `MINITWIT_SECURE_COOKIES`: mark the session cookie `Secure` (behind
    /// TLS or a TLS-terminating proxy).
    pub secure_cookies: bool,
    /// `MINITWIT_AVATARS`: `identicon` (served by us) or `gravatar`.
    pub avatars: String,
    /// `MINITWIT_HASH_CONCURRENCY`: password hashes running at once
    /// (default: the number of CPUs).
    pub hash_concurrency: Option<usize>,
    /// `MINITWIT_ADMIN_TOKEN`: enables `GET /admin/backup` for requests
    /// with `Authorization: Bearer TOKEN`; unset, there is no such endpoint.
    pub admin_token: Option<String>,
    /// `MINITWIT_BACKUP_EVERY`: the time between scheduled backups (`1h`,
    /// `30m`, ...); unset, the server takes none.
    pub backup_every: Option<String>,
    /// `MINITWIT_BACKUP_DIR`: where scheduled backups go.
    pub backup_dir: String,
    /// `MINITWIT_BACKUP_KEEP`: how many scheduled backups to keep.
    pub backup_keep: usize,
    /// `MINITWIT_METRICS_TOKEN`: when set, `/metrics` wants
    /// `Authorization: Bearer TOKEN`.
    pub metrics_token: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            store: "sled:./minitwit-data".into(),
            api_prefix: "/api".into(),
            api_port: None,
            api_user: "simulator".into(),
            api_password: "super_safe!".into(),
            max_no: 10_000,
            sled_cache_mb: 64,
            redis_namespace: "minitwit".into(),
            redis_connect_timeout_ms: 100,
            redis_response_timeout_ms: 250,
            secure_cookies: false,
            avatars: "identicon".into(),
            hash_concurrency: None,
            admin_token: None,
            backup_every: None,
            backup_dir: "./minitwit-backups".into(),
            backup_keep: 24,
            metrics_token: None,
        }
    }
}

impl Settings {
    /// Reads the settings from Rocket's figment (for `Rocket.toml`) and the
    /// environment.
    ///
    /// # Errors
    /// A setting of the wrong type.
    pub fn load(rocket_figment: &Figment) -> Result<Self, Box<rocket::figment::Error>> {
        Figment::from(Serialized::defaults(Self::default()))
            .merge(rocket_figment.focus("minitwit"))
            .merge(Env::prefixed("MINITWIT_"))
            .extract()
            .map_err(Box::new)
    }

    /// The scheduled backups these settings ask for, if any.
    ///
    /// # Errors
    /// A `MINITWIT_BACKUP_EVERY` that is not a duration, or is under a
    /// second, or a `MINITWIT_BACKUP_KEEP` of 0.
    pub fn backup_schedule(&self) -> anyhow::Result<Option<crate::backup::schedule::Schedule>> {
        let Some(every) = &self.backup_every else {
            return Ok(None);
        };
        let every = humantime::parse_duration(every).map_err(|err| {
            anyhow::anyhow!(
                "MINITWIT_BACKUP_EVERY={every:?} is not a duration ({err}); write it like 1h, 30m \
                 or 1day"
            )
        })?;
        anyhow::ensure!(
            every >= std::time::Duration::from_secs(1),
            "MINITWIT_BACKUP_EVERY must be at least a second"
        );
        anyhow::ensure!(
            self.backup_keep > 0,
            "MINITWIT_BACKUP_KEEP must be at least 1"
        );
        Ok(Some(crate::backup::schedule::Schedule {
            every,
            dir: self.backup_dir.clone().into(),
            keep: self.backup_keep,
        }))
    }
}

#[cfg(test)]
// figment's Jail fixes the closures' error type to its large `figment::Error`.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_interface() {
        rocket::figment::Jail::expect_with(|jail| {
            jail.clear_env();
            let settings = Settings::load(&rocket::Config::figment()).map_err(|err| *err)?;
            assert_eq!(settings, Settings::default());
            assert_eq!(settings.store, "sled:./minitwit-data");
            assert_eq!(settings.api_prefix, "/api");
            Ok(())
        });
    }

    #[test]
    fn environment_and_rocket_toml_override_defaults() {
        rocket::figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "Rocket.toml",
                "[default.minitwit]\nmax_no = 50\napi_prefix = \"/x\"\n",
            )?;
            jail.set_env("MINITWIT_STORE", "memory:");
            jail.set_env("MINITWIT_API_PREFIX", "/sim");
            let settings = Settings::load(&rocket::Config::figment()).map_err(|err| *err)?;
            assert_eq!(settings.store, "memory:");
            assert_eq!(settings.api_prefix, "/sim");
            assert_eq!(settings.max_no, 50);
            Ok(())
        });
    }

    #[test]
    fn backup_schedules_are_checked() {
        let mut settings = Settings::default();
        assert!(matches!(settings.backup_schedule(), Ok(None)));
        settings.backup_every = Some("90m".into());
        let schedule = settings.backup_schedule().ok().flatten();
        assert_eq!(
            schedule.map(|schedule| (schedule.every.as_secs(), schedule.keep)),
            Some((5_400, 24))
        );
        for bad in ["often", "10ms", ""] {
            settings.backup_every = Some(bad.into());
            assert!(settings.backup_schedule().is_err(), "{bad:?}");
        }
    }
}
