//! The OpenMetrics text of `/metrics`, for a scraper that asks for it
//! (`Accept: application/openmetrics-text`, as Prometheus does with
//! exemplar storage on): the same families, counters named as
//! OpenMetrics names them, and on the request-latency buckets the
//! exemplars of sampled requests, with their trace ids.

use std::collections::HashSet;
use std::fmt::Write;

use crate::exemplars::{self, Series};
use crate::families::HTTP_DURATION;

/// The media type of the answer.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether an `Accept` header asks for OpenMetrics.
pub fn asked(accept: &str) -> bool {
    accept.contains("application/openmetrics-text")
}

/// `prometheus` (the exporter's text format 0.0.4) as OpenMetrics 1.0:
/// a counter family is named without its `_total` (its samples keep it),
/// `untyped` is `unknown`, no blank lines, exemplars on the latency
/// buckets, and `# EOF` at the end.
pub fn from_prometheus(prometheus: &str) -> String {
    let counters: HashSet<&str> = prometheus
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .filter(|(_, kind)| kind.trim() == "counter")
        .map(|(name, _)| name)
        .collect();
    let bucket = format!("{HTTP_DURATION}_bucket{{");
    let mut out = String::with_capacity(prometheus.len() + 1024);
    for line in prometheus.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(described) = metadata(line, &counters) {
            out.push_str(&described);
        } else {
            out.push_str(line);
            if line.starts_with(&bucket) {
                append_exemplar(&mut out, &line[HTTP_DURATION.len() + "_bucket".len()..]);
            }
        }
        out.push('\n');
    }
    out.push_str("# EOF\n");
    out
}

/// A `# HELP` or `# TYPE` line as OpenMetrics writes it, if `line` is one.
fn metadata(line: &str, counters: &HashSet<&str>) -> Option<String> {
    let (keyword, rest) = line
        .strip_prefix("# HELP ")
        .map(|rest| ("HELP", rest))
        .or_else(|| line.strip_prefix("# TYPE ").map(|rest| ("TYPE", rest)))?;
    let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    let family = match name.strip_suffix("_total") {
        Some(base) if counters.contains(name) => base,
        _ => name,
    };
    let tail = if keyword == "TYPE" && tail.trim() == "untyped" {
        "unknown"
    } else {
        tail
    };
    Some(format!("# {keyword} {family} {tail}"))
}

/// Appends ` # {trace_id="…"} value timestamp` when the bucket whose
/// labels (and value) `rest` holds has an exemplar.
fn append_exemplar(out: &mut String, rest: &str) {
    let labels = labels(rest);
    let get = |key: &str| {
        labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let (Some(route), Some(handler), Some(status), Some(le)) =
        (get("route"), get("handler"), get("status"), get("le"))
    else {
        return;
    };
    let series = Series {
        route,
        handler,
        status,
    };
    if let Some(exemplar) = exemplars::lookup(&series, &le) {
        let _ = write!(
            out,
            " # {{trace_id=\"{}\"}} {} {:.3}",
            exemplar.trace_id, exemplar.value, exemplar.timestamp
        );
    }
}

/// The labels of `{a="x",b="y\"z"} 12`: names and unescaped values.
fn labels(text: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut chars = text.strip_prefix('{').unwrap_or(text).chars().peekable();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let name = name.trim_start_matches(',').trim().to_owned();
        if name.is_empty() || name.starts_with('}') || chars.next() != Some('"') {
            return labels;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                '"' => break,
                other => value.push(other),
            }
        }
        labels.push((name, value));
        if chars.peek() == Some(&'}') {
            return labels;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMETHEUS: &str = "# HELP geofn_http_requests_total Requests answered.\n\
        # TYPE geofn_http_requests_total counter\n\
        geofn_http_requests_total{route=\"/points/{id}\",handler=\"points\",status=\"2xx\"} 3\n\
        \n\
        # TYPE geofn_pool_size gauge\n\
        geofn_pool_size 16\n\
        # TYPE geofn_http_request_duration_seconds histogram\n\
        geofn_http_request_duration_seconds_bucket{route=\"/points/{id}\",handler=\"points\",status=\"2xx\",le=\"0.005\"} 3\n\
        geofn_http_request_duration_seconds_bucket{route=\"/points/{id}\",handler=\"points\",status=\"2xx\",le=\"+Inf\"} 3\n\
        geofn_http_request_duration_seconds_sum{route=\"/points/{id}\",handler=\"points\",status=\"2xx\"} 0.006\n\
        geofn_http_request_duration_seconds_count{route=\"/points/{id}\",handler=\"points\",status=\"2xx\"} 3\n";

    #[test]
    fn counters_lose_total_in_their_family_name_and_the_text_ends_with_eof() {
        let text = from_prometheus(PROMETHEUS);
        assert!(text.contains("# HELP geofn_http_requests Requests answered.\n"));
        assert!(text.contains("# TYPE geofn_http_requests counter\n"));
        assert!(text.contains("\ngeofn_http_requests_total{route=\"/points/{id}\""));
        assert!(text.contains("# TYPE geofn_pool_size gauge\n"));
        assert!(!text.contains("\n\n"));
        assert!(text.ends_with("\n# EOF\n"));
    }

    #[test]
    fn a_bucket_with_an_exemplar_carries_its_trace_id() {
        let series = Series {
            route: "/points/{id}".into(),
            handler: "points".into(),
            status: "2xx".into(),
        };
        exemplars::record(series, 0.004, "4bf92f3577b34da6a3ce929d0e0e4736".into());
        let text = from_prometheus(PROMETHEUS);
        let bucket = text
            .lines()
            .find(|line| line.contains("le=\"0.005\""))
            .unwrap();
        assert!(
            bucket.contains(" 3 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 0.004 "),
            "{bucket}"
        );
        let infinite = text
            .lines()
            .find(|line| line.contains("le=\"+Inf\""))
            .unwrap();
        assert!(!infinite.contains('#'), "{infinite}");
    }

    #[test]
    fn labels_are_read_with_braces_and_escapes_inside_values() {
        assert_eq!(
            labels("{route=\"/a/{id}\",name=\"say \\\"hi\\\"\"} 1"),
            vec![
                ("route".to_owned(), "/a/{id}".to_owned()),
                ("name".to_owned(), "say \"hi\"".to_owned())
            ]
        );
    }
}
