//! Which requests are traced: the sampler `OTEL_TRACES_SAMPLER` (and
//! `OTEL_TRACES_SAMPLER_ARG`) names, decided by the host once per request
//! before any span exists, so an unsampled request builds no
//! OpenTelemetry span at all (the SDK then samples everything it is
//! given).

use opentelemetry::trace::{SpanContext, TraceId};

/// The samplers of the OpenTelemetry SDK configuration specification.
#[derive(Debug, Clone, PartialEq)]
pub enum Sampler {
    /// Every trace.
    AlwaysOn,
    /// None.
    AlwaysOff,
    /// This fraction of traces, by trace id (a trace is sampled whole
    /// on every service that uses the same rule).
    TraceIdRatio(f64),
    /// What the caller's `traceparent` flag says, else the inner rule.
    ParentBased(Box<Sampler>),
}

impl Sampler {
    /// From `OTEL_TRACES_SAMPLER` and `_ARG` (read through `var`); the
    /// specification's default, `parentbased_always_on`, when unset.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let name = var("OTEL_TRACES_SAMPLER")
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "parentbased_always_on".into());
        let ratio = || -> Result<f64, String> {
            match var("OTEL_TRACES_SAMPLER_ARG").filter(|v| !v.trim().is_empty()) {
                None => Ok(1.0),
                Some(arg) => arg
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|ratio| (0.0..=1.0).contains(ratio))
                    .ok_or_else(|| {
                        format!("OTEL_TRACES_SAMPLER_ARG={arg:?} is not a ratio from 0 to 1")
                    }),
            }
        };
        let parent_based = |inner| Self::ParentBased(Box::new(inner));
        Ok(match name.as_str() {
            "always_on" => Self::AlwaysOn,
            "always_off" => Self::AlwaysOff,
            "traceidratio" => Self::TraceIdRatio(ratio()?),
            "parentbased_always_on" => parent_based(Self::AlwaysOn),
            "parentbased_always_off" => parent_based(Self::AlwaysOff),
            "parentbased_traceidratio" => parent_based(Self::TraceIdRatio(ratio()?)),
            other => {
                return Err(format!(
                    "OTEL_TRACES_SAMPLER={other:?} is not one of always_on, always_off, \
                     traceidratio, parentbased_always_on, parentbased_always_off, \
                     parentbased_traceidratio"
                ));
            }
        })
    }

    /// Whether a request whose caller's span is `parent` (invalid: no
    /// caller's trace) is traced.
    pub fn samples(&self, parent: &SpanContext) -> bool {
        match self {
            Self::AlwaysOn => true,
            Self::AlwaysOff => false,
            Self::TraceIdRatio(ratio) => {
                let trace_id = if parent.is_valid() {
                    parent.trace_id()
                } else {
                    // A root: its trace id is not drawn yet; any random
                    // one decides alike.
                    TraceId::from(fastrand::u128(..))
                };
                below_ratio(trace_id, *ratio)
            }
            Self::ParentBased(root) => {
                if parent.is_valid() {
                    parent.is_sampled()
                } else {
                    root.samples(parent)
                }
            }
        }
    }
}

/// The trace id's low 63 bits against the ratio, as the SDKs compare.
fn below_ratio(trace_id: TraceId, ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    let bytes = trace_id.to_bytes();
    let low = u64::from_be_bytes(bytes[8..].try_into().unwrap_or_default()) >> 1;
    (low as f64) < ratio * (1u64 << 63) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceState};

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    fn caller(sampled: bool) -> SpanContext {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        SpanContext::new(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            SpanId::from(0x00f0_67aa_0ba9_02b7),
            flags,
            true,
            TraceState::default(),
        )
    }

    #[test]
    fn names_and_arguments_follow_the_specification() {
        assert_eq!(
            Sampler::from_env(env(&[])),
            Ok(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
        );
        assert_eq!(
            Sampler::from_env(env(&[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0.01")
            ])),
            Ok(Sampler::TraceIdRatio(0.01))
        );
        assert_eq!(
            Sampler::from_env(env(&[("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")])),
            Ok(Sampler::ParentBased(Box::new(Sampler::TraceIdRatio(1.0))))
        );
        assert!(Sampler::from_env(env(&[("OTEL_TRACES_SAMPLER", "jaeger_remote")])).is_err());
        assert!(
            Sampler::from_env(env(&[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "2")
            ]))
            .is_err()
        );
    }

    #[test]
    fn parent_based_follows_the_callers_flag() {
        let sampler = Sampler::ParentBased(Box::new(Sampler::AlwaysOff));
        assert!(sampler.samples(&caller(true)));
        assert!(!sampler.samples(&caller(false)));
        assert!(!sampler.samples(&SpanContext::empty_context()));
        let sampler = Sampler::ParentBased(Box::new(Sampler::AlwaysOn));
        assert!(sampler.samples(&SpanContext::empty_context()));
    }

    #[test]
    fn a_ratio_samples_about_that_share_and_the_same_trace_alike() {
        let sampler = Sampler::TraceIdRatio(0.01);
        let root = SpanContext::empty_context();
        let sampled = (0..100_000).filter(|_| sampler.samples(&root)).count();
        assert!((700..1300).contains(&sampled), "{sampled} of 100,000");
        let decided = sampler.samples(&caller(true));
        assert!((0..10).all(|_| sampler.samples(&caller(true)) == decided));
        assert!(!Sampler::TraceIdRatio(0.0).samples(&caller(true)));
    }
}
