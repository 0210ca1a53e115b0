//! Hosts as blocks and per-instance limits see them: without port, case or trailing dot, and
//! grouped by their registrable domain (`social.example.co.uk` → `example.co.uk`, from the
//! Public Suffix List), so that an instance cannot escape a block or a limit by using another
//! subdomain or port.

/// `host[:port]` (or a URL's host) → the host alone, lower case, without a trailing dot.
pub fn host_only(raw: &str) -> String {
    let raw = raw.trim();
    let host = if let Some(rest) = raw.strip_prefix('[') {
        // [v6]:port
        rest.split(']').next().unwrap_or(rest)
    } else if raw.matches(':').count() == 1 {
        raw.split(':').next().unwrap_or(raw)
    } else {
        raw
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The registrable domain of a host (`eTLD+1`); IP literals, `localhost` and names under no
/// known suffix stay as they are.
pub fn registrable(raw: &str) -> String {
    let host = host_only(raw);
    if host.parse::<std::net::IpAddr>().is_ok() {
        return host;
    }
    psl::domain_str(&host).map(str::to_owned).unwrap_or(host)
}

/// True if a block of `blocked` (a domain) covers `host`: the domain itself or any of its
/// subdomains, on any port.
pub fn covers(blocked: &str, host: &str) -> bool {
    let blocked = host_only(blocked);
    let host = host_only(host);
    !blocked.is_empty()
        && (host == blocked
            || host
                .strip_suffix(blocked.as_str())
                .is_some_and(|rest| rest.ends_with('.')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_port_case_and_dot() {
        assert_eq!(host_only("Social.Example.ORG:8443"), "social.example.org");
        assert_eq!(host_only("example.org."), "example.org");
        assert_eq!(host_only("[2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(host_only("2001:db8::1"), "2001:db8::1");
    }

    #[test]
    fn registrable_domains_follow_the_public_suffix_list() {
        assert_eq!(registrable("a.b.example.org"), "example.org");
        assert_eq!(registrable("social.example.co.uk:443"), "example.co.uk");
        assert_eq!(registrable("mastodon.social"), "mastodon.social");
        assert_eq!(registrable("eu.mastodon.social"), "mastodon.social");
        // Each user's page on a hosting suffix is its own site.
        assert_eq!(registrable("alice.github.io"), "alice.github.io");
        assert_eq!(registrable("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(registrable("localhost:4000"), "localhost");
    }

    #[test]
    fn a_domain_block_covers_subdomains_and_ports_but_not_lookalikes() {
        for host in [
            "evil.example",
            "EVIL.example:8443",
            "a.b.evil.example",
            "x.evil.example.",
        ] {
            assert!(covers("evil.example", host), "{host}");
        }
        for host in ["notevil.example", "evil.example.org", "example", ""] {
            assert!(!covers("evil.example", host), "{host}");
        }
        assert!(!covers("", "evil.example"));
    }
}
