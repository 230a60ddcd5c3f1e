//! Credentials as users already keep them (docs/wire.md §7), never on the command line.
//!
//! In order:
//! 1. an explicitly named profile (`--profile NAME`) of the aliyun CLI's `~/.aliyun/config.json`;
//! 2. the environment: `ALIBABA_CLOUD_ACCESS_KEY_ID`, `ALIBABA_CLOUD_ACCESS_KEY_SECRET` and,
//!    for STS, `ALIBABA_CLOUD_SECURITY_TOKEN`;
//! 3. the profile named by `ALIBABA_CLOUD_PROFILE`, else the file's `current` one.
//!
//! Profiles of mode `AK` and `StsToken` are supported; any other mode is refused with its name.
//! Secrets are held in [`Secret`], whose `Debug` and `Display` print `***`, and no error of this
//! module ever contains one.

use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// Environment variable of the access key id.
pub const ENV_ACCESS_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
/// Environment variable of the access key secret.
pub const ENV_ACCESS_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
/// Environment variable of the STS token.
pub const ENV_SECURITY_TOKEN: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";
/// Environment variable naming the aliyun CLI profile.
pub const ENV_PROFILE: &str = "ALIBABA_CLOUD_PROFILE";

/// A secret string: shown as `***` by `Debug` and `Display`; [`expose`](Secret::expose) is the
/// only way to read it, for signing.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself, to sign with. Never print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// An access key, optionally with an STS token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id (not secret: it is sent in every request).
    pub access_key_id: String,
    /// The access key secret.
    pub secret: Secret,
    /// The STS security token, when the key is temporary.
    pub token: Option<Secret>,
}

/// Where credentials were looked for and why none were usable. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsError(pub String);

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CredentialsError {}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    current: String,
    #[serde(default)]
    profiles: Vec<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    name: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    access_key_secret: String,
    #[serde(default)]
    sts_token: String,
}

impl Credentials {
    /// The credentials of this process: `profile` is `--profile NAME`; the environment and
    /// `$HOME/.aliyun/config.json` as the module docs say.
    pub fn load(profile: Option<&str>) -> Result<Credentials, CredentialsError> {
        Credentials::load_noting(profile, &mut Vec::new())
    }

    /// [`load`](Self::load), adding to `warnings` what the user should hear about even though
    /// the credentials are usable (a config file others can read). A warning names the file,
    /// never a secret.
    pub fn load_noting(profile: Option<&str>, warnings: &mut Vec<String>) -> Result<Credentials, CredentialsError> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        Credentials::resolve_noting(profile, |name| std::env::var(name).ok(), home.as_deref(), warnings)
    }

    /// [`load`](Self::load) with the environment and the home folder given, for tests.
    pub fn resolve(
        profile: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
        home: Option<&Path>,
    ) -> Result<Credentials, CredentialsError> {
        Credentials::resolve_noting(profile, env, home, &mut Vec::new())
    }

    /// [`resolve`](Self::resolve) with the warnings of [`load_noting`](Self::load_noting).
    pub fn resolve_noting(
        profile: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
        home: Option<&Path>,
        warnings: &mut Vec<String>,
    ) -> Result<Credentials, CredentialsError> {
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        if let Some(name) = profile {
            return from_profile(home, Some(name), warnings);
        }
        match (env(ENV_ACCESS_KEY_ID), env(ENV_ACCESS_KEY_SECRET)) {
            (Some(access_key_id), Some(secret)) => {
                return Ok(Credentials {
                    access_key_id,
                    secret: Secret(secret),
                    token: env(ENV_SECURITY_TOKEN).map(Secret),
                });
            }
            (Some(_), None) => {
                return Err(CredentialsError(format!("{ENV_ACCESS_KEY_ID} is set but {ENV_ACCESS_KEY_SECRET} is not")));
            }
            (None, Some(_)) => {
                return Err(CredentialsError(format!("{ENV_ACCESS_KEY_SECRET} is set but {ENV_ACCESS_KEY_ID} is not")));
            }
            (None, None) => {}
        }
        from_profile(home, env(ENV_PROFILE).as_deref(), warnings)
    }
}

fn from_profile(
    home: Option<&Path>,
    wanted: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Credentials, CredentialsError> {
    let no_credentials = |why: String| {
        CredentialsError(format!(
            "no credentials: set {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET} (and {ENV_SECURITY_TOKEN} for STS), \
             or configure a profile with `aliyun configure` ({why})"
        ))
    };
    let Some(home) = home else {
        return Err(no_credentials("HOME is not set".into()));
    };
    let path = home.join(".aliyun").join("config.json");
    let shown = path.display();
    // Read only if a regular file, and bounded: a FIFO or a link to /dev/zero named as the
    // config must not hang apply or fill its memory.
    let (text, mode) = match crate::file::read_regular(&path, crate::file::CONFIG_LIMIT) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && wanted.is_none() => {
            return Err(no_credentials(format!("{shown} does not exist")));
        }
        Err(e) => return Err(CredentialsError(format!("{shown}: {e}"))),
    };
    // serde_json's messages may quote a value it read; give only where and what kind.
    let config: ConfigFile = serde_json::from_slice(&text).map_err(|e| {
        CredentialsError(format!(
            "{shown}: line {}, column {}: not a valid aliyun CLI config ({:?} error)",
            e.line(),
            e.column(),
            e.classify()
        ))
    })?;
    let name = wanted.unwrap_or(&config.current);
    if name.is_empty() {
        return Err(no_credentials(format!("{shown} names no current profile")));
    }
    let Some(p) = config.profiles.iter().find(|p| p.name == name) else {
        let names: Vec<&str> = config.profiles.iter().map(|p| p.name.as_str()).collect();
        return Err(CredentialsError(format!("{shown}: no profile {name:?} (profiles: {names:?})")));
    };
    let token = match p.mode.as_str() {
        "AK" => None,
        "StsToken" => Some(Secret(p.sts_token.clone())),
        other => {
            return Err(CredentialsError(format!(
                "{shown}: profile {name:?} has mode {other:?}; devdist supports modes \"AK\" and \"StsToken\" \
                 (export {ENV_ACCESS_KEY_ID}/{ENV_ACCESS_KEY_SECRET}/{ENV_SECURITY_TOKEN} for other kinds of credentials)"
            )));
        }
    };
    let missing = [
        ("access_key_id", p.access_key_id.is_empty()),
        ("access_key_secret", p.access_key_secret.is_empty()),
        ("sts_token", token.as_ref().is_some_and(|t| t.0.is_empty())),
    ];
    if let Some((field, _)) = missing.iter().find(|(_, empty)| *empty) {
        return Err(CredentialsError(format!("{shown}: profile {name:?} has no {field}")));
    }
    if mode & 0o077 != 0 {
        warnings.push(format!(
            "{shown} holds an access key secret and can be read by others than its owner (mode {mode:04o}); \
             the aliyun CLI writes it 0600: chmod 600 {shown}"
        ));
    }
    Ok(Credentials { access_key_id: p.access_key_id.clone(), secret: Secret(p.access_key_secret.clone()), token })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const CONFIG: &str = r#"{ "current": "default",
      "profiles": [
        { "name": "default", "mode": "AK", "access_key_id": "AKdefault", "access_key_secret": "sekritdefault",
          "region_id": "cn-shanghai", "output_format": "json", "language": "en" },
        { "name": "sts", "mode": "StsToken", "access_key_id": "AKsts", "access_key_secret": "sekritsts",
          "sts_token": "TOKENsts" },
        { "name": "role", "mode": "RamRoleArn", "access_key_id": "AKrole", "access_key_secret": "sekritrole",
          "ram_role_arn": "acs:ram::1:role/x" },
        { "name": "empty", "mode": "AK", "access_key_id": "AKempty", "access_key_secret": "" }
      ],
      "meta_path": "" }"#;

    fn home_with(config: &str) -> tempfile::TempDir {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".aliyun")).unwrap();
        std::fs::write(home.path().join(".aliyun/config.json"), config).unwrap();
        home
    }

    fn resolve(
        profile: Option<&str>,
        env: &[(&str, &str)],
        home: Option<&Path>,
    ) -> Result<Credentials, CredentialsError> {
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Credentials::resolve(profile, |name| env.get(name).cloned(), home)
    }

    #[test]
    fn environment_first_with_optional_token() {
        let home = home_with(CONFIG);
        let env = [(ENV_ACCESS_KEY_ID, "AKenv"), (ENV_ACCESS_KEY_SECRET, "sekritenv")];
        let c = resolve(None, &env, Some(home.path())).unwrap();
        assert_eq!((c.access_key_id.as_str(), c.secret.expose(), c.token), ("AKenv", "sekritenv", None));
        let env =
            [(ENV_ACCESS_KEY_ID, "AKenv"), (ENV_ACCESS_KEY_SECRET, "sekritenv"), (ENV_SECURITY_TOKEN, "TOKENenv")];
        let c = resolve(None, &env, None).unwrap();
        assert_eq!(c.token.unwrap().expose(), "TOKENenv");
    }

    #[test]
    fn half_an_environment_key_is_refused() {
        let err = resolve(None, &[(ENV_ACCESS_KEY_ID, "AKenv")], None).unwrap_err();
        assert_eq!(err.to_string(), "ALIBABA_CLOUD_ACCESS_KEY_ID is set but ALIBABA_CLOUD_ACCESS_KEY_SECRET is not");
    }

    #[test]
    fn profile_by_flag_then_env_then_current() {
        let home = home_with(CONFIG);
        let c = resolve(None, &[], Some(home.path())).unwrap();
        assert_eq!((c.access_key_id.as_str(), c.secret.expose()), ("AKdefault", "sekritdefault"));
        let c = resolve(None, &[(ENV_PROFILE, "sts")], Some(home.path())).unwrap();
        assert_eq!((c.access_key_id.as_str(), c.token.as_ref().map(Secret::expose)), ("AKsts", Some("TOKENsts")));
        let env = [(ENV_PROFILE, "default"), (ENV_ACCESS_KEY_ID, "AKenv"), (ENV_ACCESS_KEY_SECRET, "sekritenv")];
        let c = resolve(Some("sts"), &env, Some(home.path())).unwrap();
        assert_eq!(c.access_key_id, "AKsts", "an explicit --profile beats the environment");
    }

    #[test]
    fn other_modes_unknown_profiles_and_empty_fields_are_refused_without_secrets() {
        let home = home_with(CONFIG);
        let path = home.path().join(".aliyun/config.json");
        let err = resolve(Some("role"), &[], Some(home.path())).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: profile \"role\" has mode \"RamRoleArn\"; devdist supports modes \"AK\" and \"StsToken\" \
                 (export ALIBABA_CLOUD_ACCESS_KEY_ID/ALIBABA_CLOUD_ACCESS_KEY_SECRET/ALIBABA_CLOUD_SECURITY_TOKEN \
                 for other kinds of credentials)",
                path.display()
            )
        );
        let err = resolve(Some("nope"), &[], Some(home.path())).unwrap_err().to_string();
        assert!(err.ends_with("no profile \"nope\" (profiles: [\"default\", \"sts\", \"role\", \"empty\"])"), "{err}");
        let err = resolve(Some("empty"), &[], Some(home.path())).unwrap_err().to_string();
        assert!(err.ends_with("profile \"empty\" has no access_key_secret"), "{err}");
        for err in [
            resolve(Some("role"), &[], Some(home.path())).unwrap_err(),
            resolve(Some("nope"), &[], Some(home.path())).unwrap_err(),
        ] {
            assert!(!format!("{err} {err:?}").contains("sekrit"), "{err}");
        }
    }

    #[test]
    fn a_broken_file_is_reported_by_position_only() {
        let home =
            home_with(r#"{"current": "default", "profiles": [{"name": "default", "access_key_secret": sekritx}]}"#);
        let err = resolve(None, &[], Some(home.path())).unwrap_err().to_string();
        assert!(err.contains("line 1, column "), "{err}");
        assert!(!err.contains("sekrit"), "{err}");
    }

    #[test]
    fn nothing_found_says_what_to_do() {
        let home = tempfile::tempdir().unwrap();
        let err = resolve(None, &[], Some(home.path())).unwrap_err().to_string();
        assert!(
            err.starts_with("no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
            "{err}"
        );
        assert!(err.ends_with("config.json does not exist)"), "{err}");
        let err = resolve(None, &[], None).unwrap_err().to_string();
        assert!(err.ends_with("(HOME is not set)"), "{err}");
    }

    #[test]
    fn only_a_regular_config_of_sane_size_is_read() {
        use std::os::unix::fs::symlink;
        let home = tempfile::tempdir().unwrap();
        let aliyun = home.path().join(".aliyun");
        std::fs::create_dir(&aliyun).unwrap();
        let path = aliyun.join("config.json");
        let not_regular = format!("{}: not a regular file (a FIFO, a device or a socket): not read", path.display());
        symlink("/dev/zero", &path).unwrap();
        assert_eq!(resolve(None, &[], Some(home.path())).unwrap_err().to_string(), not_regular);
        std::fs::remove_file(&path).unwrap();
        assert!(std::process::Command::new("mkfifo").arg(&path).status().unwrap().success());
        // A FIFO without a writer: the open would block forever if it were not refused.
        let (sent, received) = std::sync::mpsc::channel();
        let at = home.path().to_path_buf();
        std::thread::spawn(move || sent.send(resolve(Some("default"), &[], Some(&at)).map_err(|e| e.to_string())));
        let answer = received.recv_timeout(std::time::Duration::from_secs(10)).expect("a FIFO config hangs");
        assert_eq!(answer.unwrap_err(), not_regular);
        std::fs::remove_file(&path).unwrap();
        let mut big = CONFIG.to_string();
        big.push_str(&" ".repeat(1 << 20));
        std::fs::write(&path, big).unwrap();
        assert_eq!(
            resolve(None, &[], Some(home.path())).unwrap_err().to_string(),
            format!("{}: larger than 1 MiB: not read", path.display())
        );
    }

    #[test]
    fn a_config_others_can_read_is_used_with_a_warning_that_holds_no_secret() {
        use std::os::unix::fs::PermissionsExt;
        let home = home_with(CONFIG);
        let path = home.path().join(".aliyun/config.json");
        let noted = |mode: u32| {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let mut warnings = Vec::new();
            let c = Credentials::resolve_noting(None, |_| None, Some(home.path()), &mut warnings).unwrap();
            assert_eq!(c.secret.expose(), "sekritdefault");
            warnings
        };
        assert_eq!(noted(0o600), Vec::<String>::new());
        let warnings = noted(0o644);
        assert_eq!(
            warnings,
            [format!(
                "{0} holds an access key secret and can be read by others than its owner (mode 0644); \
                 the aliyun CLI writes it 0600: chmod 600 {0}",
                path.display()
            )]
        );
        assert_eq!(noted(0o640).len(), 1, "readable by its group");
        assert!(!format!("{warnings:?}").contains("sekrit"));
    }

    #[test]
    fn secrets_print_as_stars() {
        let c = Credentials {
            access_key_id: "AK".into(),
            secret: Secret::new("sekritx"),
            token: Some(Secret::new("TOKENx")),
        };
        let shown = format!("{c:?} {} {}", c.secret, c.token.as_ref().unwrap());
        assert!(!shown.contains("sekritx") && !shown.contains("TOKENx"), "{shown}");
        assert!(shown.contains("***"));
    }
}
