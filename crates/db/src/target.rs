//! How a connection target appears in logs and errors.

use tokio_postgres::config::Host;

/// A connection target fit for logs: hosts, ports, database and user, never
/// the password.
pub fn redacted(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "postgresql://{}@{}:{}/{}{}",
        config.get_user().unwrap_or("?"),
        hosts.join(","),
        ports.join(","),
        config.get_dbname().unwrap_or(""),
        if config.get_password().is_some() {
            " (password set)"
        } else {
            ""
        }
    )
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn redaction_hides_the_password() {
        let config =
            tokio_postgres::Config::from_str("postgresql://gisuser:s3cret@db.example:6432/gisdb")
                .unwrap();
        let shown = redacted(&config);
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("gisuser@db.example:6432/gisdb"), "{shown}");
    }
}
