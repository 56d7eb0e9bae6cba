//! Every setting of the server, declared once below: its name in code ([`Setting`]), its
//! variable, and, unless it is read from the environment only, its flag (clap), so `server
//! --help` lists them all with their defaults. Code asks for a setting by its [`Setting`], so a
//! misspelt name does not compile. Values are checked where they are read ([`super::Config`],
//! [`super::ServeConfig`]), whose errors name the variable and the flag. Secrets are read from
//! the environment only: flags show up in process listings.

use clap::Args;

/// Declares the settings: `Variant(field): "VARIABLE", "VALUE NAME";` for one with a flag
/// (`--field`, in kebab case), `Variant: "VARIABLE";` for one read from the environment only.
/// The doc comment of a flag is its `--help` text.
macro_rules! settings {
    (
        flags { $( $(#[$doc:meta])* $flag:ident($field:ident): $var:literal, $value:literal; )* }
        environment_only { $( $(#[$env_doc:meta])* $env:ident: $env_var:literal; )* }
    ) => {
        /// Settings shared by every command. Each flag overrides its variable.
        #[derive(Debug, Clone, Default, Args)]
        pub struct Settings {
            $(
                $(#[$doc])*
                #[arg(long, env = $var, value_name = $value, global = true)]
                $field: Option<String>,
            )*
        }

        /// One setting, by its name in code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Setting {
            $( $(#[$doc])* $flag, )*
            $( $(#[$env_doc])* $env, )*
        }

        impl Setting {
            /// Every setting.
            pub const ALL: &'static [Setting] = &[$(Setting::$flag,)* $(Setting::$env,)*];

            /// The environment variable it is read from.
            pub const fn variable(self) -> &'static str {
                match self {
                    $( Setting::$flag => $var, )*
                    $( Setting::$env => $env_var, )*
                }
            }
        }

        impl Settings {
            /// A setting's value: its flag, else its variable; empty values count as unset.
            pub fn get(&self, setting: Setting) -> Option<String> {
                let value = match setting {
                    $( Setting::$flag => self.$field.clone(), )*
                    $( Setting::$env => std::env::var($env_var).ok(), )*
                };
                value.filter(|v| !v.is_empty())
            }
        }
    };
}

settings! {
    flags {
        /// The bucket that receives uploads. Unset: the embedded dev bucket.
        Bucket(bucket): "UPLOAD_BUCKET", "NAME";
        /// The bucket's region, which policies are signed for (Garage: its s3_region).
        Region(region): "AWS_REGION", "REGION";
        /// An S3-compatible endpoint, addressed path-style (also read from AWS_ENDPOINT_URL).
        /// Unset: AWS.
        Endpoint(endpoint): "AWS_ENDPOINT_URL_S3", "URL";
        /// Seconds a signed form stays valid, 30 to 600 [default: 300].
        PolicyTtlSecs(policy_ttl_secs): "UPLOAD_POLICY_TTL_SECS", "SECS";
        /// The largest file signed for, in bytes, at most 5 TiB (files above 5 GiB go in parts)
        /// [default: 5368709120].
        MaxBytes(max_bytes): "UPLOAD_MAX_BYTES", "BYTES";
        /// Files above this size go to the bucket in parts (multipart upload), at most 5 GiB
        /// [default: 104857600].
        MultipartThreshold(multipart_threshold): "UPLOAD_MULTIPART_THRESHOLD", "BYTES";
        /// Accepted types, comma-separated, `type/*` wildcards allowed [default: any].
        AllowedTypes(allowed_types): "UPLOAD_ALLOWED_TYPES", "TYPES";
        /// A TOML file of upload profiles (`[profiles.NAME]`), each with its own limits and
        /// metadata; the settings here are their defaults. Unset: one profile, `default`.
        Profiles(profiles): "UPLOAD_PROFILES", "PATH";
        /// Sites that may frame the uploader (`/embed/NAME?origin=ORIGIN`), comma-separated
        /// origins such as https://app.example; needs UPLOAD_AUTH=token [default: none].
        EmbedOrigins(embed_origins): "UPLOAD_EMBED_ORIGINS", "ORIGINS";
        /// Files one uploader may start per minute; past that, 429 [default: 60].
        FilesPerMinute(files_per_minute): "UPLOAD_FILES_PER_MINUTE", "N";
        /// Signatures one client address may ask for per minute [default: 600].
        SignsPerMinutePerIp(signs_per_minute_per_ip): "UPLOAD_SIGNS_PER_MINUTE_PER_IP", "N";
        /// Files up to this size are hashed in the browser and checked by the bucket; 0: off
        /// [default: 268435456].
        ChecksumMaxBytes(checksum_max_bytes): "UPLOAD_CHECKSUM_MAX_BYTES", "BYTES";
        /// What a file's first bytes must show before it is verified: `strict` (its declared
        /// type's magic numbers, and no runnable markup), `lenient` (those of a type that has
        /// them; text passes as declared) or `off`; a profile's content_check overrides it
        /// [default: lenient].
        ContentCheck(content_check): "UPLOAD_CONTENT_CHECK", "strict|lenient|off";
        /// A quarantined upload bigger than this is promoted to its final key by copying parts
        /// of this size (UploadPartCopy) instead of one CopyObject, which S3 caps at 5 GiB;
        /// 5 MiB to 5 GiB [default: 5368709120].
        CopyPartBytes(copy_part_bytes): "UPLOAD_COPY_PART_BYTES", "BYTES";
        /// ClamAV's clamd, host:port: profiles with `scan = true` have every file streamed from
        /// the bucket to it (INSTREAM) before it is promoted [default: none].
        ClamdAddr(clamd_addr): "UPLOAD_CLAMD_ADDR", "HOST:PORT";
        /// The largest file the malware scan takes (clamd's StreamMaxLength must be at least
        /// this); a bigger one is never passed as clean: it is set aside unscanned
        /// [default: 26214400].
        ScanMaxBytes(scan_max_bytes): "UPLOAD_SCAN_MAX_BYTES", "BYTES";
        /// How long a confirm waits for a quarantined upload's checks (scan, promotion) before
        /// answering that they are under way; the page asks again until there is a verdict;
        /// 0 to 30000 [default: 5000].
        CheckWaitMs(check_wait_ms): "UPLOAD_CHECK_WAIT_MS", "MS";
        /// How single-request uploads go to the bucket: `post` (a form; AWS, Garage) or `put`
        /// (a presigned PUT, for stores without POST uploads: Cloudflare R2, Backblaze B2)
        /// [default: post].
        Method(method): "UPLOAD_METHOD", "post|put";
        /// Which digest the bucket checks: `sha256` (x-amz-checksum-sha256), `md5` (Content-MD5,
        /// for stores that refuse checksum headers; needs --method put) or `off`
        /// [default: sha256].
        Checksum(checksum): "UPLOAD_CHECKSUM", "sha256|md5|off";
        /// Sign with temporary credentials from STS AssumeRole on this role, scoped per uploader.
        RoleArn(role_arn): "UPLOAD_ROLE_ARN", "ARN";
        /// `assume-role` (with --role-arn) or `federation` (GetFederationToken).
        StsMode(sts_mode): "UPLOAD_STS_MODE", "MODE";
        /// Lifetime of STS credentials, 900 to 43200 (federation: 129600) [default: 3600].
        StsDurationSecs(sts_duration_secs): "UPLOAD_STS_DURATION_SECS", "SECS";
        /// Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: comma-separated CIDRs.
        TrustedProxies(trusted_proxies): "UPLOAD_TRUSTED_PROXIES", "CIDRS";
        /// Who uploads: `anonymous` (a random id per browser, in a cookie), `token` (the
        /// application's users, by JWTs it signs) or `proxy` (named by an authenticating
        /// proxy's header) [default: anonymous].
        Auth(auth): "UPLOAD_AUTH", "anonymous|token|proxy";
        /// With --auth token: the issuer's JWKS, fetched and cached (EdDSA, ES256, RS256 keys).
        TokenJwksUrl(token_jwks_url): "UPLOAD_TOKEN_JWKS_URL", "URL";
        /// With --auth token: a PEM public key file (Ed25519, P-256 or RSA) instead of a JWKS.
        TokenPublicKeyFile(token_public_key_file): "UPLOAD_TOKEN_PUBLIC_KEY_FILE", "PATH";
        /// With --auth token: the `aud` every token must name.
        TokenAudience(token_audience): "UPLOAD_TOKEN_AUDIENCE", "AUDIENCE";
        /// With --auth token: the `iss` every token must name.
        TokenIssuer(token_issuer): "UPLOAD_TOKEN_ISSUER", "ISSUER";
        /// With --auth token: how long a session exchanged for a token lasts [default: 28800].
        SessionTtlSecs(session_ttl_secs): "UPLOAD_SESSION_TTL_SECS", "SECS";
        /// With --auth token: the application's page that signs people in and comes back
        /// here with `#token=...`.
        SignInUrl(sign_in_url): "UPLOAD_SIGN_IN_URL", "URL";
        /// With --auth proxy: the header the proxy names the user in (e.g. X-Auth-Request-User).
        AuthHeader(auth_header): "UPLOAD_AUTH_HEADER", "HEADER";
        /// With --auth proxy: the header with the user's roles, comma-separated.
        AuthRolesHeader(auth_roles_header): "UPLOAD_AUTH_ROLES_HEADER", "HEADER";
        /// With --auth proxy: the authenticating proxy's addresses, CIDRs (required; not the
        /// balancers' list).
        AuthProxies(auth_proxies): "UPLOAD_AUTH_PROXIES", "CIDRS";
        /// The role that names the operator (read and carried for now).
        AdminRole(admin_role): "UPLOAD_ADMIN_ROLE", "ROLE";
        /// The site's public origins, comma-separated (https://upload.example.com); requests for
        /// any other host name get 421 [default: the listening address and its loopback names].
        PublicOrigin(public_origin): "UPLOAD_PUBLIC_ORIGIN", "ORIGINS";
        /// This instance's name in the `x-upload-instance` header (default: the host name).
        InstanceId(instance_id): "UPLOAD_INSTANCE_ID", "NAME";
        /// Where `/metrics` is served (default 127.0.0.1:9464; never on the app's own port).
        MetricsAddr(metrics_addr): "UPLOAD_METRICS_ADDR", "ADDR";
        /// On SIGTERM, how long requests in flight may take before the server exits (default 20).
        DrainSecs(drain_secs): "UPLOAD_DRAIN_SECS", "SECS";
        /// Where the record of pending uploads and their verdicts is kept without
        /// UPLOAD_REDIS_URL (one instance's own) [default: data/state].
        StateDir(state_dir): "UPLOAD_STATE_DIR", "DIR";
        /// Seconds after a form's policy expires before the reconciler checks what it stored,
        /// 1 to 86400 [default: 900].
        ReconcileGraceSecs(reconcile_grace_secs): "UPLOAD_RECONCILE_GRACE_SECS", "SECS";
        /// Seconds between the reconciler's rounds, 1 to 300 [default: 5].
        ReconcileEverySecs(reconcile_every_secs): "UPLOAD_RECONCILE_EVERY_SECS", "SECS";
        /// Where events are sent (Standard Webhooks; with UPLOAD_WEBHOOK_SECRET). Unset: none.
        WebhookUrl(webhook_url): "UPLOAD_WEBHOOK_URL", "URL";
        /// How long an event is tried before it is a dead letter, 10 to 2592000 [default:
        /// 259200, three days].
        WebhookRetrySecs(webhook_retry_secs): "UPLOAD_WEBHOOK_RETRY_SECS", "SECS";
        /// Where the embedded dev bucket listens [default: 127.0.0.1:0, any free port].
        DevBucketAddr(dev_bucket_addr): "UPLOAD_DEV_BUCKET_ADDR", "ADDR";
        /// Where the embedded dev bucket stores files [default: data].
        DevDataDir(dev_data_dir): "UPLOAD_DEV_DATA_DIR", "DIR";
        /// The embedded dev bucket answers as this store is documented to (`r2`: POST uploads
        /// refused; `b2`: those and `x-amz-checksum-*` headers refused), for tests.
        DevEmulate(dev_emulate): "UPLOAD_DEV_EMULATE", "r2|b2";
    }
    environment_only {
        /// The access key id the server signs with (with the secret below).
        AccessKeyId: "AWS_ACCESS_KEY_ID";
        /// The secret key the server signs with; it never leaves the server.
        SecretAccessKey: "AWS_SECRET_ACCESS_KEY";
        /// The session token of temporary credentials.
        SessionToken: "AWS_SESSION_TOKEN";
        /// The AWS SDK's general endpoint, read when AWS_ENDPOINT_URL_S3 is unset.
        AnyEndpoint: "AWS_ENDPOINT_URL";
        /// When set, signing needs this code; kept only as its SHA-256.
        AccessCode: "UPLOAD_ACCESS_CODE";
        /// The key cookies, return tokens and receipts are sealed with (64 hex digits).
        SessionSecret: "UPLOAD_SESSION_SECRET";
        /// With UPLOAD_AUTH=token: the shared secret HS256 tokens are signed with (32 bytes or
        /// more).
        TokenHs256Secret: "UPLOAD_TOKEN_HS256_SECRET";
        /// The store the instances share (Redis); the URL may hold a password.
        RedisUrl: "UPLOAD_REDIS_URL";
        /// The webhook's `whsec_` secrets, space-separated during a rotation (each signs).
        WebhookSecret: "UPLOAD_WEBHOOK_SECRET";
        /// Pins the dev bucket's access key id (tests sign forms from outside with it).
        DevAccessKeyId: "UPLOAD_DEV_ACCESS_KEY_ID";
        /// Pins the dev bucket's secret key.
        DevSecretAccessKey: "UPLOAD_DEV_SECRET_ACCESS_KEY";
    }
}

impl Setting {
    /// The setting read from `variable`, if any (for tests that name settings in tables).
    pub fn from_variable(variable: &str) -> Option<Setting> {
        Setting::ALL.iter().copied().find(|setting| setting.variable() == variable)
    }
}

/// " (--flag)" for a variable that has a flag, to name both in messages.
pub fn flag_hint(variable: &str) -> String {
    let command = Settings::augment_args(clap::Command::new("server"));
    let flag = command
        .get_arguments()
        .find(|arg| arg.get_env().is_some_and(|env| env == variable))
        .and_then(|arg| arg.get_long());
    flag.map(|long| format!(" (--{long})")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        settings: Settings,
    }

    #[test]
    fn flags_are_read_by_their_variable_names() {
        let probe = Probe::try_parse_from([
            "server",
            "--bucket",
            "uploads",
            "--max-bytes",
            "1048576",
            "--sts-mode",
            "",
        ])
        .unwrap();
        assert_eq!(probe.settings.get(Setting::Bucket).as_deref(), Some("uploads"));
        assert_eq!(probe.settings.get(Setting::MaxBytes).as_deref(), Some("1048576"));
        assert_eq!(probe.settings.get(Setting::StsMode), None, "empty is unset");
        assert_eq!(Setting::from_variable("NOT_A_SETTING"), None);
    }

    #[test]
    fn every_variable_is_one_setting() {
        for setting in Setting::ALL {
            assert_eq!(Setting::from_variable(setting.variable()), Some(*setting));
        }
    }

    #[test]
    fn messages_name_the_flag_too() {
        assert_eq!(flag_hint("UPLOAD_MAX_BYTES"), " (--max-bytes)");
        assert_eq!(flag_hint("AWS_SECRET_ACCESS_KEY"), "");
    }

    #[test]
    fn secrets_have_no_flags() {
        assert!(Probe::try_parse_from(["server", "--secret-access-key", "x"]).is_err());
        assert!(Probe::try_parse_from(["server", "--access-code", "x"]).is_err());
    }
}
