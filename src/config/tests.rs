//! The configuration's tests: the embedded defaults, blank and bad values, the seed's variable
//! names, database URLs, SMTP security, the private data directory.

use super::*;

fn settings(pairs: &[(&str, &str)]) -> Settings {
    let mut args = vec!["aicarpool".to_owned()];
    for (flag, value) in pairs {
        args.push(format!("--{flag}={value}"));
    }
    Cli::try_parse_from(args).unwrap().settings
}

#[test]
fn nothing_set_runs_on_embedded_defaults() {
    let config = Config::from_settings(&Settings::default()).unwrap();
    assert_eq!(config.database.backend, DbBackend::Sqlite);
    assert_eq!(
        config.sqlite_path(),
        Some(PathBuf::from("data/aicarpool.db"))
    );
    assert_eq!(config.listen, "0.0.0.0:3000".parse().unwrap());
    assert_eq!(config.app_url, "http://localhost:3000");
    assert!(config.redis_url.is_none() && config.smtp.is_none() && config.jwt_secret.is_none());
    assert_eq!(
        config.budget_alert_interval,
        std::time::Duration::from_secs(60)
    );
    let config = Config::from_settings(&settings(&[("budget-alert-interval", "300")])).unwrap();
    assert_eq!(
        config.budget_alert_interval,
        std::time::Duration::from_secs(300)
    );
    let log = config.defaults_taken.join("\n");
    for var in [
        "DATA_DIR",
        "DATABASE_URL",
        "PORT",
        "HOST",
        "REDIS_URL",
        "APP_URL",
        "SMTP_HOST",
    ] {
        assert!(log.contains(var), "{var} missing from {log}");
    }
}

#[test]
fn the_cny_rate_is_exact_with_a_default() {
    let config = Config::from_settings(&Settings::default()).unwrap();
    assert_eq!(config.cny_per_usd, 72_000);
    let config = Config::from_settings(&settings(&[("cny-per-usd", "7.1234")])).unwrap();
    assert_eq!(config.cny_per_usd, 71_234);
    let err = Config::from_settings(&settings(&[("cny-per-usd", "7,2")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "CNY_PER_USD: \"7,2\": must be a decimal number such as 7.2 or 7.1234 (yuan per US dollar, e.g. 7.2)"
    );
}

#[test]
fn blank_values_count_as_unset() {
    let config = Config::from_settings(&settings(&[("smtp-host", ""), ("port", " ")])).unwrap();
    assert!(config.smtp.is_none());
    assert_eq!(config.listen.port(), 3000);
}

#[test]
fn bad_values_name_their_variable() {
    let cases: &[(&str, &str, &str)] = &[
        ("port", "abc", "PORT"),
        ("port", "70000", "PORT"),
        ("host", "localhost:3000", "HOST"),
        ("database-url", "postgres://x/y", "DATABASE_URL"),
        ("database-url", "mysql://localhost", "DATABASE_URL"),
        ("database-url", "not a url", "DATABASE_URL"),
        ("redis-url", "http://localhost", "REDIS_URL"),
        ("jwt-secret", "short", "JWT_SECRET"),
        ("nextauth-secret", "short", "NEXTAUTH_SECRET"),
        ("app-url", "ftp://x", "APP_URL"),
        ("nextauth-url", "nope", "NEXTAUTH_URL"),
        ("smtp-from", "not an address", "SMTP_FROM"),
        ("budget-alert-interval", "1", "BUDGET_ALERT_INTERVAL"),
        ("budget-alert-interval", "a minute", "BUDGET_ALERT_INTERVAL"),
        ("cny-per-usd", "seven", "CNY_PER_USD"),
        ("cny-per-usd", "0", "CNY_PER_USD"),
        ("cny-per-usd", "-7.2", "CNY_PER_USD"),
        ("cny-per-usd", "7.12345", "CNY_PER_USD"),
    ];
    for (flag, value, var) in cases {
        let err = Config::from_settings(&settings(&[(flag, value)])).unwrap_err();
        assert_eq!(err.var, *var, "{flag}={value}: {err}");
        assert!(!err.to_string().contains('\n'), "one line: {err}");
    }
    let err = Config::from_settings(&settings(&[
        ("smtp-host", "mail.example.com"),
        ("smtp-port", "0"),
    ]))
    .unwrap_err();
    assert_eq!(err.var, "SMTP_PORT");
    let err = Config::from_settings(&settings(&[
        ("smtp-host", "m.example.com"),
        ("smtp-security", "ssl3"),
    ]))
    .unwrap_err();
    assert_eq!(err.var, "SMTP_SECURITY");
    let err = Config::from_settings(&settings(&[
        ("smtp-host", "m.example.com"),
        ("smtp-user", "u"),
    ]))
    .unwrap_err();
    assert_eq!(err.var, "SMTP_PASSWORD");
}

#[test]
fn seed_names_are_accepted_and_new_names_win() {
    let secret = "s".repeat(32);
    let config = Config::from_settings(&settings(&[
        ("nextauth-secret", &secret),
        ("nextauth-url", "https://carpool.example.com/"),
    ]))
    .unwrap();
    assert_eq!(config.jwt_secret.unwrap().expose(), &secret);
    assert_eq!(config.app_url, "https://carpool.example.com");
    assert_eq!(config.mail_from, "AiCarpool <noreply@carpool.example.com>");

    let config = Config::from_settings(&settings(&[
        ("nextauth-url", "https://old.example.com"),
        ("app-url", "https://new.example.com"),
    ]))
    .unwrap();
    assert_eq!(config.app_url, "https://new.example.com");
}

#[test]
fn database_urls_pick_the_backend() {
    let config = Config::from_settings(&settings(&[(
        "database-url",
        "mysql://u:p@127.0.0.1:3306/carpool",
    )]))
    .unwrap();
    assert_eq!(config.database.backend, DbBackend::Mysql);
    assert!(
        !format!("{config:?}").contains("u:p@"),
        "the password must not print"
    );
    let config = Config::from_settings(&settings(&[(
        "database-url",
        "sqlite:///var/lib/x.db?mode=rwc",
    )]))
    .unwrap();
    assert_eq!(config.sqlite_path(), Some(PathBuf::from("/var/lib/x.db")));
}

#[test]
fn smtp_security_follows_the_port() {
    let config = Config::from_settings(&settings(&[
        ("smtp-host", "smtp.example.com"),
        ("smtp-port", "465"),
    ]))
    .unwrap();
    let smtp = config.smtp.unwrap();
    assert_eq!((smtp.port, smtp.security), (465, SmtpSecurity::Tls));
    let config = Config::from_settings(&settings(&[("smtp-host", "smtp.example.com")])).unwrap();
    let smtp = config.smtp.unwrap();
    assert_eq!((smtp.port, smtp.security), (587, SmtpSecurity::StartTls));
}

#[test]
fn resolve_secrets_creates_a_private_data_dir() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nested/data");
    let mut config =
        Config::from_settings(&settings(&[("data-dir", dir.to_str().unwrap())])).unwrap();
    config.resolve_secrets().unwrap();
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(config.jwt_secret.unwrap().expose().len(), 64);
}
