//! The application's settings, read the way Rocket reads its own: defaults,
//! then the `[PROFILE.minitwit]` table of `Rocket.toml`, then `MINITWIT_*`
//! environment variables, then command-line flags.

use rocket::figment::Figment;
use rocket::figment::providers::{Env, Serialized};
use serde::{Deserialize, Serialize};

/// Every setting of the `minitwit` server. `docs/configuration.md` lists
/// them with their environment variables, and `Rocket.toml.example` with
/// their `Rocket.toml` keys.
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
    /// (default: the number of CPUs on sled, half of them on Redis).
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
    /// `MINITWIT_RATE_SIGN_IN_PER_ADDRESS`: sign-in attempts per client
    /// address and minute (0: no limit).
    pub rate_sign_in_per_address: u32,
    /// `MINITWIT_RATE_SIGN_IN_PER_USERNAME`: sign-in attempts per username
    /// and minute (0: no limit).
    pub rate_sign_in_per_username: u32,
    /// `MINITWIT_RATE_SIGN_UP_PER_ADDRESS`: sign-up attempts per client
    /// address and minute (0: no limit).
    pub rate_sign_up_per_address: u32,
    /// `MINITWIT_RATE_POSTS_PER_USER`: posts on the site per user and minute
    /// (0: no limit).
    pub rate_posts_per_user: u32,
    /// `MINITWIT_RATE_FOLLOWS_PER_USER`: follows and unfollows on the site
    /// per user and minute (0: no limit).
    pub rate_follows_per_user: u32,
    /// `MINITWIT_TRUSTED_PROXIES`: addresses or networks (comma-separated)
    /// whose `X-Forwarded-For` names the client.
    pub trusted_proxies: String,
    /// `MINITWIT_SESSION_DAYS`: how long a sign-in on the site lasts.
    pub session_days: u32,
}

/// Stores one credential read from the environment into the settings.
type SetCredential = fn(&mut Settings, String);

/// The settings that are credentials: read from the environment exactly as
/// written (a password of digits stays text, quotes stay quotes), never
/// parsed as TOML values the way other variables are.
const CREDENTIALS: [(&str, SetCredential); 4] = [
    ("API_USER", |settings, value| settings.api_user = value),
    ("API_PASSWORD", |settings, value| {
        settings.api_password = value
    }),
    ("ADMIN_TOKEN", |settings, value| {
        settings.admin_token = Some(value);
    }),
    ("METRICS_TOKEN", |settings, value| {
        settings.metrics_token = Some(value);
    }),
];

impl Default for Settings {
    fn default() -> Self {
        Self {
            store: "sled:./minitwit-data".into(),
            api_prefix: "/api".into(),
            api_port: None,
            api_user: "simulator".into(),
            api_password: "super_safe!".into(),
            max_no: 10_000,
            sled_cache_mb: 16,
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
            rate_sign_in_per_address: 60,
            rate_sign_in_per_username: 10,
            rate_sign_up_per_address: 30,
            rate_posts_per_user: 30,
            rate_follows_per_user: 60,
            trusted_proxies: String::new(),
            session_days: 30,
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
        let credentials = CREDENTIALS.map(|(name, _)| name);
        let mut settings: Self = Figment::from(Serialized::defaults(Self::default()))
            .merge(rocket_figment.focus("minitwit"))
            // Global: the environment beats every profile of `Rocket.toml`
            // (`[release.minitwit]` included), not only `[default]`.
            .merge(Env::prefixed("MINITWIT_").ignore(&credentials).global())
            .extract()
            .map_err(Box::new)?;
        for (name, set) in CREDENTIALS {
            if let Ok(value) = std::env::var(format!("MINITWIT_{name}")) {
                set(&mut settings, value);
            }
        }
        Ok(settings)
    }

    /// The trusted proxies, parsed.
    ///
    /// # Errors
    /// An entry that is neither an address nor a network.
    pub fn trusted_proxies(&self) -> anyhow::Result<Vec<ipnet::IpNet>> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "MINITWIT_TRUSTED_PROXIES holds {entry:?}, which is neither an address \
                             (10.0.0.1, ::1) nor a network (10.0.0.0/8)"
                        )
                    })
            })
            .collect()
    }

    /// The site's rate limits.
    pub fn rate_limits(&self) -> minitwit_web::RateLimits {
        minitwit_web::RateLimits {
            sign_in_per_address: self.rate_sign_in_per_address,
            sign_in_per_username: self.rate_sign_in_per_username,
            sign_up_per_address: self.rate_sign_up_per_address,
            posts_per_user: self.rate_posts_per_user,
            follows_per_user: self.rate_follows_per_user,
        }
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
    fn the_environment_beats_every_profile_of_rocket_toml() {
        rocket::figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "Rocket.toml",
                "[release.minitwit]\nmax_no = 5\nsled_cache_mb = 32\n",
            )?;
            jail.set_env("MINITWIT_MAX_NO", "7");
            let figment = rocket::Config::figment().select("release");
            let settings = Settings::load(&figment).map_err(|err| *err)?;
            assert_eq!(settings.max_no, 7);
            assert_eq!(settings.sled_cache_mb, 32);
            Ok(())
        });
    }

    /// `Rocket.toml.example` names every setting, and reads as a valid
    /// configuration with all of its lines uncommented.
    #[test]
    fn the_example_rocket_toml_names_every_setting() {
        let example = include_str!("../Rocket.toml.example");
        let mut keys = std::collections::BTreeSet::new();
        let mut uncommented = String::new();
        let mut in_minitwit = false;
        for line in example.lines() {
            if line.starts_with('[') {
                in_minitwit = line.trim() == "[default.minitwit]";
                uncommented.push_str(line);
            } else if let Some(setting) = line.strip_prefix("# ").filter(|_| in_minitwit)
                && let Some((key, _)) = setting.split_once(" = ")
            {
                keys.insert(key.trim().to_owned());
                uncommented.push_str(setting);
            }
            uncommented.push('\n');
        }
        let fields: std::collections::BTreeSet<String> =
            match serde_json::to_value(Settings::default()) {
                Ok(serde_json::Value::Object(fields)) => fields.keys().cloned().collect(),
                other => panic!("settings serialize as {other:?}"),
            };
        assert_eq!(keys, fields, "Rocket.toml.example and Settings differ");
        rocket::figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("Rocket.toml", &uncommented)?;
            let settings = Settings::load(&rocket::Config::figment()).map_err(|err| *err)?;
            assert_eq!(settings.api_port, Some(8001));
            assert_eq!(settings.backup_every.as_deref(), Some("1h"));
            Ok(())
        });
    }

    #[test]
    fn credentials_are_read_as_written() {
        rocket::figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("MINITWIT_API_PASSWORD", "0123");
            jail.set_env("MINITWIT_API_USER", "\"quoted\"");
            jail.set_env("MINITWIT_ADMIN_TOKEN", "true");
            jail.set_env("MINITWIT_METRICS_TOKEN", "[1, 2]");
            let settings = Settings::load(&rocket::Config::figment()).map_err(|err| *err)?;
            assert_eq!(settings.api_password, "0123");
            assert_eq!(settings.api_user, "\"quoted\"");
            assert_eq!(settings.admin_token.as_deref(), Some("true"));
            assert_eq!(settings.metrics_token.as_deref(), Some("[1, 2]"));
            Ok(())
        });
    }

    #[test]
    fn trusted_proxies_take_addresses_and_networks() {
        let mut settings = Settings::default();
        assert!(
            settings
                .trusted_proxies()
                .is_ok_and(|proxies| proxies.is_empty())
        );
        settings.trusted_proxies = "10.0.0.0/8, 127.0.0.1,::1".into();
        let proxies = settings.trusted_proxies().unwrap_or_default();
        assert_eq!(proxies.len(), 3);
        assert_eq!(proxies[1].to_string(), "127.0.0.1/32");
        settings.trusted_proxies = "10.0.0.0/8, my-proxy".into();
        let err = settings.trusted_proxies().err().map(|err| err.to_string());
        assert!(err.is_some_and(|err| err.contains("\"my-proxy\"")));
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

/// Properties of `MINITWIT_TRUSTED_PROXIES` over random lists: addresses and
/// networks, however spaced, read as the networks they name, and any entry
/// that is neither is refused, named in the message.
#[cfg(test)]
mod properties {
    use std::net::IpAddr;

    use proptest::prelude::*;

    use super::*;

    fn network() -> impl Strategy<Value = ipnet::IpNet> {
        prop_oneof![
            (any::<[u8; 4]>(), 0u8..=32).prop_map(|(a, p)| ipnet::IpNet::V4(
                ipnet::Ipv4Net::new(a.into(), p).unwrap_or_default()
            )),
            (any::<[u16; 8]>(), 0u8..=128).prop_map(|(a, p)| ipnet::IpNet::V6(
                ipnet::Ipv6Net::new(a.into(), p).unwrap_or_default()
            )),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn lists_of_networks_and_addresses_read_back(
            nets in prop::collection::vec((network(), any::<bool>()), 0..6),
            spaces in "[ \t]{0,2}",
        ) {
            // A /32 or /128 may be written as a bare address.
            let written: Vec<String> = nets
                .iter()
                .map(|(net, bare)| {
                    if *bare && net.prefix_len() == net.max_prefix_len() {
                        net.addr().to_string()
                    } else {
                        net.to_string()
                    }
                })
                .collect();
            let settings = Settings {
                trusted_proxies: written.join(&format!("{spaces},{spaces}")),
                ..Settings::default()
            };
            let read = settings.trusted_proxies().map_err(|err| TestCaseError::fail(err.to_string()))?;
            let expected: Vec<ipnet::IpNet> = nets.iter().map(|(net, _)| *net).collect();
            prop_assert_eq!(read, expected);
        }

        #[test]
        fn entries_that_are_not_networks_are_refused_by_name(
            good in network(),
            bad in "[a-z:./0-9]{1,16}",
        ) {
            prop_assume!(bad.parse::<ipnet::IpNet>().is_err() && bad.parse::<IpAddr>().is_err());
            let settings = Settings {
                trusted_proxies: format!("{good}, {bad}"),
                ..Settings::default()
            };
            let err = settings.trusted_proxies().err().map(|err| err.to_string());
            prop_assert!(err.as_deref().is_some_and(|err| err.contains(&format!("{bad:?}"))), "{err:?}");
        }
    }
}
