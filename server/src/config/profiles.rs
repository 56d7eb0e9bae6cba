//! Upload profiles (`UPLOAD_PROFILES=path`): a TOML file of `[profiles.NAME]` tables, each
//! overriding the global limits for its kind of upload, read and checked once at start (an
//! error names the profile and the key). Without the file there is one profile, `default`,
//! which is the global settings; `[profiles.default]` changes it like any other.
//!
//! ```toml
//! [profiles.invoices]
//! types = ["application/pdf"]
//! max_bytes = 20_000_000
//! roles = ["accounting"]
//! [profiles.invoices.metadata.invoice-id]
//! required = true
//! max_len = 12
//! chars = "digits"
//! [[profiles.invoices.webhooks]]
//! name = "billing"
//! url = "https://billing.example/hooks/uploads"
//! secret_env = "BILLING_WEBHOOK_SECRET"
//! ```

use std::collections::BTreeMap;

use app::rules::{
    metadata_name_refusal, origin, profile_name_refusal, Chars, Field, Profile, DEFAULT_PROFILE,
    LAST_MODIFIED_METADATA, MAX_METADATA_BYTES, MAX_METADATA_ENTRIES, MAX_OBJECT_BYTES,
    MAX_POST_BYTES, PROFILE_METADATA, UPLOADER_METADATA,
};
use toml::{Table, Value};

use super::limits::{type_pattern, Limits};
use super::read::{invalid, ConfigError, Lookup};
use super::settings::Setting;
use crate::filetype::ContentCheck;
use crate::quarantine::Refused;

/// One profile as the server holds it: the rules the page shares, who may use it, and where
/// it may be embedded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileConfig {
    pub rules: Profile,
    /// The roles that may use it (any one of them); empty: anyone who may upload.
    pub roles: Vec<String>,
    /// The sites that may frame its uploader (`/embed/NAME`): `UPLOAD_EMBED_ORIGINS`, or the
    /// profile's `embed_origins`, which narrows it. Empty: no site may.
    pub embed_origins: Vec<String>,
    /// The names of the endpoints its events go to, in place of `UPLOAD_WEBHOOK_URL`'s
    /// (`Some(empty)`: none); `None`: that one, when it is set.
    pub webhooks: Option<Vec<String>>,
    /// What its files' first bytes must show (`UPLOAD_CONTENT_CHECK`, or its `content_check`).
    pub content_check: ContentCheck,
    /// Whether its uploads are staged until every check passes (`quarantine`: README, "Held
    /// until checked").
    pub quarantine: bool,
    /// What becomes of a staged file a check refuses (`quarantine_refused`).
    pub refused: Refused,
    /// Whether its files are scanned for malware by clamd before they are promoted (`scan`;
    /// needs `quarantine` and `UPLOAD_CLAMD_ADDR`).
    pub scan: bool,
}

/// A profile's endpoint, as the file declares it (`[[profiles.NAME.webhooks]]`); its secret is
/// read from the environment when the service starts (`config::webhooks`). Its `Debug` shows
/// the URL without its query or user, as the logs do (either may hold a token).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookDecl {
    pub url: String,
    /// The environment variable that holds its `whsec_` secret(s).
    pub secret_env: String,
}

impl std::fmt::Debug for WebhookDecl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::events::endpoint::{shown, Endpoint};
        let url = Endpoint::check_url(&self.url).map(|url| shown(&url)).unwrap_or_default();
        f.debug_struct("WebhookDecl")
            .field("url", &url)
            .field("secret_env", &self.secret_env)
            .finish()
    }
}

impl ProfileConfig {
    /// Whether a page on `origin` may frame this profile's uploader.
    pub fn embeddable_on(&self, origin: &str) -> bool {
        self.embed_origins.iter().any(|allowed| allowed == origin)
    }
}

/// `UPLOAD_EMBED_ORIGINS`: origins, comma-separated.
fn embed_origins(get: &impl Lookup) -> Result<Vec<String>, ConfigError> {
    let listed = get(Setting::EmbedOrigins).unwrap_or_default();
    listed
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|raw| {
            origin(raw).ok_or_else(|| {
                invalid(
                    Setting::EmbedOrigins,
                    format!("expected origins such as https://app.example (no path), got {raw:?}"),
                )
            })
        })
        .collect()
}

/// Every profile, `default` always among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profiles {
    by_name: BTreeMap<String, ProfileConfig>,
    /// The profiles' own webhook endpoints, by name (one endpoint may serve several profiles).
    endpoints: BTreeMap<String, WebhookDecl>,
}

/// Metadata entries the service adds to every object (`uploader`, `profile`) and the page adds
/// to every file (`file-last-modified`): what a profile's fields must leave room for.
const ENTRIES_TAKEN: usize = 3;

impl Profiles {
    /// The profiles of `UPLOAD_PROFILES`, over `limits` (the global settings); just `default`
    /// without the file.
    pub fn from_lookup(get: &impl Lookup, limits: &Limits) -> Result<Self, ConfigError> {
        let Self { mut by_name, .. } = Self::only_default(limits);
        let embed = embed_origins(get)?;
        for profile in by_name.values_mut() {
            profile.embed_origins.clone_from(&embed);
        }
        let Some(path) = get(Setting::Profiles) else {
            return Ok(Self { by_name, endpoints: BTreeMap::new() });
        };
        let base = by_name[DEFAULT_PROFILE].clone();
        let text = std::fs::read_to_string(&path)
            .map_err(|err| invalid(Setting::Profiles, format!("cannot read {path}: {err}")))?;
        let file: Table = text
            .parse()
            .map_err(|err| invalid(Setting::Profiles, format!("{path} is not TOML: {err}")))?;
        let (profiles, endpoints) =
            parse(&file, &base).map_err(|e| invalid(Setting::Profiles, e))?;
        for (name, profile) in profiles {
            if profile.scan && limits.clamd_addr.is_none() {
                let problem = format!("profile {name:?} has scan = true, which needs clamd");
                return Err(invalid(Setting::ClamdAddr, problem));
            }
            by_name.insert(name, profile);
        }
        Ok(Self { by_name, endpoints })
    }

    /// Just the default profile: the global settings `limits`.
    pub fn only_default(limits: &Limits) -> Self {
        let base = ProfileConfig {
            rules: default_rules(limits),
            roles: Vec::new(),
            embed_origins: Vec::new(),
            webhooks: None,
            content_check: limits.content_check,
            quarantine: false,
            refused: Refused::default(),
            scan: false,
        };
        let by_name = BTreeMap::from([(DEFAULT_PROFILE.to_owned(), base)]);
        Self { by_name, endpoints: BTreeMap::new() }
    }

    /// The profile named `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<&ProfileConfig> {
        self.by_name.get(name)
    }

    /// The default profile.
    pub fn default_profile(&self) -> &ProfileConfig {
        &self.by_name[DEFAULT_PROFILE]
    }

    pub fn iter(&self) -> impl Iterator<Item = &ProfileConfig> {
        self.by_name.values()
    }

    /// The profiles' own webhook endpoints, by name.
    pub fn endpoints(&self) -> &BTreeMap<String, WebhookDecl> {
        &self.endpoints
    }

    /// Whether any profile may be embedded somewhere.
    pub fn embeddable(&self) -> bool {
        self.iter().any(|profile| !profile.embed_origins.is_empty())
    }
}

/// The default profile from the global settings.
fn default_rules(limits: &Limits) -> Profile {
    Profile {
        name: DEFAULT_PROFILE.to_owned(),
        allowed_types: limits.allowed_types.clone(),
        min_bytes: 1,
        max_bytes: limits.max_bytes,
        checksum_max_bytes: limits.checksum_max_bytes,
        multipart_threshold: limits.multipart_threshold,
        files_per_minute: limits.files_per_minute.get(),
        files_per_day: None,
        fields: Vec::new(),
    }
}

/// The profiles and their endpoints.
type Parsed = (Vec<(String, ProfileConfig)>, BTreeMap<String, WebhookDecl>);

/// The file's profiles, each over `base`, and their endpoints; an error names the profile and
/// the key.
fn parse(file: &Table, base: &ProfileConfig) -> Result<Parsed, String> {
    if let Some(other) = file.keys().find(|key| *key != "profiles") {
        return Err(format!("unknown key {other:?} (profiles go in [profiles.NAME] tables)"));
    }
    let mut endpoints = BTreeMap::new();
    let Some(profiles) = file.get("profiles") else { return Ok((Vec::new(), endpoints)) };
    let profiles = profiles.as_table().ok_or("\"profiles\" must be a table of [profiles.NAME]")?;
    let parsed = profiles
        .iter()
        .map(|(name, table)| {
            if name != DEFAULT_PROFILE {
                if let Some(refusal) = profile_name_refusal(name) {
                    return Err(format!("profile {name:?}: {refusal}"));
                }
            }
            let table = table
                .as_table()
                .ok_or_else(|| format!("profile {name:?}: expected a table [profiles.{name}]"))?;
            let profile = one(name, table, base, &mut endpoints)
                .map_err(|e| format!("profile {name:?}, {e}"))?;
            Ok((name.clone(), profile))
        })
        .collect::<Result<_, String>>()?;
    Ok((parsed, endpoints))
}

/// `webhooks`: a list of `{name, url, secret_env}`, each added to `endpoints` (a name given
/// twice must say the same both times); the names, in order.
fn webhooks(
    value: &Value,
    endpoints: &mut BTreeMap<String, WebhookDecl>,
) -> Result<Vec<String>, String> {
    let expected =
        "expected a list of { name, url, secret_env } tables ([[profiles.NAME.webhooks]])";
    let list = value.as_array().ok_or(expected)?;
    let mut names = Vec::new();
    for item in list {
        let table = item.as_table().ok_or(expected)?;
        let text = |key: &str| -> Result<String, String> {
            table
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("each endpoint needs {key:?} (a string)"))
        };
        if let Some(other) =
            table.keys().find(|k| !["name", "url", "secret_env"].contains(&k.as_str()))
        {
            return Err(format!("{other:?} is unknown (known: name, url, secret_env)"));
        }
        let name = text("name")?;
        if let Some(refusal) = endpoint_name_refusal(&name) {
            return Err(refusal);
        }
        let url = text("url")?;
        crate::events::endpoint::Endpoint::check_url(&url)
            .map_err(|e| format!("endpoint {name:?}: {e}"))?;
        let secret_env = text("secret_env")?;
        let mut chars = secret_env.chars();
        let shaped = chars.next().is_some_and(|c| c.is_ascii_uppercase() || c == '_')
            && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !shaped {
            // Not repeated: it may be the secret itself, pasted in the wrong place.
            return Err(format!(
                "endpoint {name:?}: secret_env names the environment variable holding its \
                 secret (capitals, digits and _, such as BILLING_WEBHOOK_SECRET); the secret \
                 itself never goes in this file"
            ));
        }
        let decl = WebhookDecl { url, secret_env };
        match endpoints.get(&name) {
            Some(before) if *before != decl => {
                return Err(format!(
                    "endpoint {name:?} is declared twice with a different url or secret_env \
                     (one name, one endpoint: give each its own name)"
                ))
            }
            Some(_) => {}
            None => drop(endpoints.insert(name.clone(), decl)),
        }
        if names.contains(&name) {
            return Err(format!("endpoint {name:?} is listed twice"));
        }
        names.push(name);
    }
    Ok(names)
}

/// Why `name` cannot name an endpoint: it names its outbox in the store, its metrics and its
/// flag, like a profile's name; `default` is `UPLOAD_WEBHOOK_URL`'s.
fn endpoint_name_refusal(name: &str) -> Option<String> {
    if name == crate::events::endpoint::CONFIGURED {
        return Some(format!(
            "{name:?} is UPLOAD_WEBHOOK_URL's endpoint: leave webhooks out to use it, or give \
             this one another name"
        ));
    }
    profile_name_refusal(name).map(|_| {
        format!(
            "{name:?} is not a usable endpoint name (1-32 lowercase letters, digits, hyphens, \
             starting with a letter, not with \"ffff\")"
        )
    })
}

/// One `[profiles.NAME]` table over `base`, its endpoints added to `endpoints`; an error names
/// the key.
fn one(
    name: &str,
    table: &Table,
    base: &ProfileConfig,
    endpoints: &mut BTreeMap<String, WebhookDecl>,
) -> Result<ProfileConfig, String> {
    let mut profile = base.clone();
    profile.rules.name = name.to_owned();
    let rules = &mut profile.rules;
    for (key, value) in table {
        let at = |e: String| format!("key {key:?}: {e}");
        match key.as_str() {
            "types" => {
                rules.allowed_types = strings(value)?
                    .iter()
                    .map(|t| type_pattern(t))
                    .collect::<Result<_, _>>()
                    .map_err(at)?;
            }
            "min_bytes" => rules.min_bytes = whole(value, 1, MAX_OBJECT_BYTES).map_err(at)?,
            "max_bytes" => rules.max_bytes = whole(value, 1, MAX_OBJECT_BYTES).map_err(at)?,
            "checksum_max_bytes" => {
                rules.checksum_max_bytes = whole(value, 0, u64::MAX).map_err(at)?
            }
            "multipart_threshold" => {
                rules.multipart_threshold = whole(value, 1, MAX_POST_BYTES).map_err(at)?;
            }
            "files_per_minute" => rules.files_per_minute = count(value).map_err(at)?,
            "files_per_day" => rules.files_per_day = Some(count(value).map_err(at)?),
            "roles" => profile.roles = strings(value).map_err(at)?,
            "metadata" => {
                let fields = value.as_table().ok_or_else(|| {
                    at(format!("expected [profiles.{name}.metadata.FIELD] tables"))
                })?;
                rules.fields = fields
                    .iter()
                    .map(|(field, rule)| {
                        metadata_field(field, rule)
                            .map_err(|e| format!("key \"metadata.{field}\": {e}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "embed_origins" => {
                let mut narrowed = Vec::new();
                for raw in strings(value).map_err(at)? {
                    let origin = origin(&raw).ok_or_else(|| {
                        at(format!("expected origins such as https://app.example, got {raw:?}"))
                    })?;
                    if !base.embed_origins.contains(&origin) {
                        return Err(at(format!(
                            "{origin} is not in UPLOAD_EMBED_ORIGINS (a profile narrows that \
                             list, never widens it)"
                        )));
                    }
                    narrowed.push(origin);
                }
                profile.embed_origins = narrowed;
            }
            "webhooks" => profile.webhooks = Some(webhooks(value, endpoints).map_err(at)?),
            "content_check" => {
                let mode =
                    value.as_str().ok_or_else(|| at(format!("expected a string, got {value}")))?;
                profile.content_check = mode.parse().map_err(at)?;
            }
            "quarantine" => {
                profile.quarantine = value
                    .as_bool()
                    .ok_or_else(|| at(format!("expected true or false, got {value}")))?;
            }
            "scan" => {
                profile.scan = value
                    .as_bool()
                    .ok_or_else(|| at(format!("expected true or false, got {value}")))?;
            }
            "quarantine_refused" => {
                let what =
                    value.as_str().ok_or_else(|| at(format!("expected a string, got {value}")))?;
                profile.refused = what.parse().map_err(at)?;
            }
            _ => {
                return Err(at(
                    "unknown (known: types, min_bytes, max_bytes, files_per_minute, \
                     files_per_day, checksum_max_bytes, multipart_threshold, metadata, roles, \
                     embed_origins, webhooks, content_check, quarantine, quarantine_refused, scan)"
                        .into(),
                ))
            }
        }
    }
    if profile.scan && !profile.quarantine {
        return Err(
            "key \"scan\": needs quarantine = true (a file would be readable at its final \
             key until it is scanned)"
                .into(),
        );
    }
    if rules.min_bytes > rules.max_bytes {
        return Err(format!(
            "key \"min_bytes\": {} is more than max_bytes ({})",
            rules.min_bytes, rules.max_bytes
        ));
    }
    if rules.fields.len() + ENTRIES_TAKEN > MAX_METADATA_ENTRIES {
        return Err(format!(
            "key \"metadata\": at most {} fields (S3 keeps {MAX_METADATA_ENTRIES} entries here, \
             {ENTRIES_TAKEN} are the service's and the page's)",
            MAX_METADATA_ENTRIES - ENTRIES_TAKEN
        ));
    }
    let longest: usize = rules
        .fields
        .iter()
        .map(|f| f.name.len() + f.max_len.map_or(MAX_METADATA_BYTES, |n| n as usize))
        .sum();
    if longest > MAX_METADATA_BYTES / 2 {
        return Err(format!(
            "key \"metadata\": names and longest values take {longest} bytes; give the fields \
             max_len so they stay within {} (half of S3's {MAX_METADATA_BYTES})",
            MAX_METADATA_BYTES / 2
        ));
    }
    Ok(profile)
}

/// `[profiles.NAME.metadata.FIELD]`: `required`, `max_len`, and `values` or `chars`.
fn metadata_field(name: &str, rule: &Value) -> Result<Field, String> {
    if let Some(refusal) = metadata_name_refusal(name) {
        return Err(refusal);
    }
    if [UPLOADER_METADATA, PROFILE_METADATA, LAST_MODIFIED_METADATA].contains(&name) {
        return Err(format!("{name:?} is set by the service or the page, not by a profile"));
    }
    let rule = rule.as_table().ok_or("expected a table (required, max_len, values or chars)")?;
    let mut field = Field {
        name: name.to_owned(),
        required: false,
        max_len: None,
        values: Vec::new(),
        chars: Chars::Printable,
    };
    let mut chars_given = false;
    for (key, value) in rule {
        let at = |e: String| format!("{key:?}: {e}");
        match key.as_str() {
            "required" => {
                field.required =
                    value.as_bool().ok_or_else(|| at("expected true or false".into()))?
            }
            "max_len" => {
                let max = whole(value, 1, MAX_METADATA_BYTES as u64).map_err(at)?;
                field.max_len = Some(u32::try_from(max).expect("at most 2048"));
            }
            "values" => field.values = strings(value).map_err(at)?,
            "chars" => {
                chars_given = true;
                field.chars = match value.as_str() {
                    Some("digits") => Chars::Digits,
                    Some("word") => Chars::Word,
                    Some("printable") => Chars::Printable,
                    _ => {
                        return Err(at(format!(
                            "expected \"digits\", \"word\" or \"printable\", got {value}"
                        )))
                    }
                };
            }
            _ => return Err(at("unknown (known: required, max_len, values, chars)".into())),
        }
    }
    if chars_given && !field.values.is_empty() {
        return Err("give values or chars, not both".into());
    }
    if let Some(bad) =
        field.values.iter().find(|v| v.is_empty() || field.refusal(Some(v)).is_some())
    {
        return Err(format!("the value {bad:?} is not printable ASCII within max_len"));
    }
    if field.max_len.is_none() && !field.values.is_empty() {
        field.max_len = field.values.iter().map(|v| v.len() as u32).max();
    }
    Ok(field)
}

fn strings(value: &Value) -> Result<Vec<String>, String> {
    value
        .as_array()
        .and_then(|items| items.iter().map(|v| v.as_str().map(str::to_owned)).collect())
        .ok_or_else(|| format!("expected a list of strings, got {value}"))
}

fn whole(value: &Value, min: u64, max: u64) -> Result<u64, String> {
    value
        .as_integer()
        .and_then(|n| u64::try_from(n).ok())
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("expected a whole number from {min} to {max}, got {value}"))
}

fn count(value: &Value) -> Result<u32, String> {
    let n = whole(value, 1, u64::from(u32::MAX))?;
    Ok(u32::try_from(n).expect("within u32"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::read::TEST_SETTINGS;
    use crate::config::{table, Config};

    fn with_file(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles.toml");
        std::fs::write(&path, text).unwrap();
        let path = path.to_str().unwrap().to_owned();
        let mut pairs = TEST_SETTINGS.to_vec();
        pairs.push(("UPLOAD_PROFILES", &path));
        pairs.push(("UPLOAD_MAX_BYTES", "1000000"));
        Config::from_lookup(table(&pairs))
    }

    const TWO: &str = r#"
[profiles.default]
files_per_minute = 30

[profiles.invoices]
types = ["application/PDF"]
min_bytes = 100
max_bytes = 20_000_000
files_per_day = 50
roles = ["accounting"]

[profiles.invoices.metadata.invoice-id]
required = true
max_len = 12
chars = "digits"

[profiles.invoices.metadata.kind]
values = ["paid", "due"]
"#;

    #[test]
    fn profiles_override_the_global_settings_for_themselves_only() {
        let config = with_file(TWO).unwrap();
        let default = &config.profiles.default_profile().rules;
        assert_eq!((default.max_bytes, default.files_per_minute), (1_000_000, 30));
        let invoices = config.profiles.get("invoices").unwrap();
        assert_eq!(invoices.rules.allowed_types, ["application/pdf"]);
        assert_eq!((invoices.rules.min_bytes, invoices.rules.max_bytes), (100, 20_000_000));
        assert_eq!(invoices.rules.files_per_minute, 60, "the global default, not default's");
        assert_eq!(invoices.rules.files_per_day, Some(50));
        assert_eq!(invoices.roles, ["accounting"]);
        let names: Vec<_> = invoices.rules.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["invoice-id", "kind"]);
        assert_eq!(invoices.rules.fields[1].max_len, Some(4));
        assert!(config.profiles.get("videos").is_none());
    }

    #[test]
    fn without_a_file_the_default_profile_is_the_global_settings() {
        let config = Config::from_lookup(table(&TEST_SETTINGS)).unwrap();
        let only: Vec<_> = config.profiles.iter().map(|p| p.rules.name.as_str()).collect();
        assert_eq!(only, ["default"]);
        assert_eq!(config.profiles.default_profile().rules, default_rules(&config.limits));
    }

    #[test]
    fn an_endpoints_token_and_a_misplaced_secret_are_never_shown() {
        let err = with_file(
            "[[profiles.a.webhooks]]\nname = \"b\"\nurl = \"http://h/\"\nsecret_env = \"whsec_MfKQ9r8\"",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("secret_env") && !err.contains("MfKQ9r8"), "{err}");
        let config = with_file(
            "[[profiles.a.webhooks]]\nname = \"b\"\nurl = \"https://u:p4ss@h/x?token=t0ken\"\nsecret_env = \"S\"",
        )
        .unwrap();
        let debug = format!("{:?}", config.profiles);
        assert!(debug.contains("https://h/x") && !debug.contains("t0ken"), "{debug}");
        assert!(!debug.contains("p4ss"), "{debug}");
    }

    #[test]
    fn a_scanned_profile_needs_quarantine_and_clamd() {
        let err = with_file("[profiles.a]\nscan = true").unwrap_err().to_string();
        assert!(err.contains("profile \"a\", key \"scan\": needs quarantine = true"), "{err}");
        let err = with_file("[profiles.a]\nquarantine = true\nscan = true").unwrap_err();
        let err = err.to_string();
        assert!(err.contains("UPLOAD_CLAMD_ADDR") && err.contains("needs clamd"), "{err}");
        let config = with_file("[profiles.a]\nquarantine = true\nquarantine_refused = \"remove\"");
        let a = config.unwrap().profiles.get("a").cloned().unwrap();
        assert!(a.quarantine && !a.scan && a.refused == Refused::Remove);
        let mut pairs = TEST_SETTINGS.to_vec();
        pairs.push(("UPLOAD_CLAMD_ADDR", "clamd"));
        let err = Config::from_lookup(table(&pairs)).unwrap_err().to_string();
        assert!(err.contains("expected HOST:PORT"), "{err}");
    }

    #[test]
    fn errors_name_the_profile_and_the_key() {
        for (text, expected) in [
            (
                "[profiles.a]\nmax_bytes = \"big\"",
                "profile \"a\", key \"max_bytes\": expected a whole number",
            ),
            ("[profiles.a]\nmax_byte = 1", "profile \"a\", key \"max_byte\": unknown"),
            (
                "[profiles.a]\ntypes = [\"pdf\"]",
                "profile \"a\", key \"types\": expected types such as",
            ),
            (
                "[profiles.a]\nmin_bytes = 10\nmax_bytes = 5",
                "profile \"a\", key \"min_bytes\": 10 is more",
            ),
            ("[profiles.Bad]", "profile \"Bad\": \"Bad\" is not a usable profile name"),
            (
                "[profiles.a.metadata.Id]\nrequired = true",
                "key \"metadata.Id\": \"Id\" is not a usable metadata name",
            ),
            (
                "[profiles.a.metadata.id]\nchars = \"hex\"",
                "key \"metadata.id\": \"chars\": expected",
            ),
            (
                "[profiles.a.metadata.id]\nchars = \"word\"\nvalues = [\"x\"]",
                "values or chars, not both",
            ),
            ("[profiles.a.metadata.uploader]\nrequired = true", "set by the service"),
            ("[profiles.a]\nwebhooks = \"x\"", "key \"webhooks\": expected a list"),
            (
                "[[profiles.a.webhooks]]\nname = \"default\"\nurl = \"http://h/\"\nsecret_env = \"S\"",
                "is UPLOAD_WEBHOOK_URL's endpoint",
            ),
            (
                "[[profiles.a.webhooks]]\nname = \"b\"\nurl = \"ftp://h/\"\nsecret_env = \"S\"",
                "key \"webhooks\": endpoint \"b\": expected an http",
            ),
            (
                "[[profiles.a.webhooks]]\nname = \"b\"\nurl = \"http://h/\"\nsecret_env = \"whsec_x\"",
                "never goes in this file",
            ),
            ("[[profiles.a.webhooks]]\nname = \"b\"\nurl = \"http://h/\"", "needs \"secret_env\""),
            (
                "[[profiles.a.webhooks]]\nname = \"ffff\"\nurl = \"http://h/\"\nsecret_env = \"S\"",
                "not with \"ffff\"",
            ),
            (
                "[[profiles.a.webhooks]]\nname = \"b\"\nurl = \"http://h/\"\nsecret_env = \"S\"\n\
                 [[profiles.c.webhooks]]\nname = \"b\"\nurl = \"http://other/\"\nsecret_env = \"S\"",
                "declared twice with a different url",
            ),
            (
                "[profiles.a]\nembed_origins = [\"https://app.example\"]",
                "is not in UPLOAD_EMBED_ORIGINS",
            ),
            ("[other]", "unknown key \"other\""),
            ("[profiles.a", "is not TOML"),
        ] {
            let err = with_file(text).unwrap_err().to_string();
            assert!(err.starts_with("UPLOAD_PROFILES"), "{err}");
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }
}
