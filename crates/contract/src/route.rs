//! Routes as manifests write them: `"METHOD /path"`, path segments like
//! `{id}` matching one segment.

/// A parsed route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The method it answers: an HTTP method token, as written (`GET`,
    /// `POST`, or an extension method).
    pub method: String,
    /// The path template (matchit syntax).
    pub path: String,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// Parses "METHOD /path".
pub fn parse_route(route: &str) -> Option<Route> {
    let (method, path) = route.trim().split_once(char::is_whitespace)?;
    let path = path.trim();
    if !path.starts_with('/') || path.contains(char::is_whitespace) {
        return None;
    }
    if !is_token(method) {
        return None;
    }
    Some(Route {
        method: method.to_owned(),
        path: path.to_owned(),
    })
}

/// Whether `text` is an HTTP token (RFC 9110 `tchar`s), as a method must be.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_need_a_method_and_an_absolute_path() {
        let route = parse_route(" GET  /points/{id} ").unwrap();
        assert_eq!(route.method, "GET");
        assert_eq!(route.to_string(), "GET /points/{id}");
        for bad in ["/nomethod", "GET points", "GET /a b", "", "G(T /a"] {
            assert!(parse_route(bad).is_none(), "{bad}");
        }
    }
}
