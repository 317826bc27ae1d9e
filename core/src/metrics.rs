//! Prometheus text exposition (format 0.0.4) for `GET /api/v1/metrics`.
//!
//! Pure rendering: families of samples in, text out, with label values escaped
//! as the format requires. The figures come from `store::stats`.

use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub samples: Vec<Sample>,
}

impl Family {
    pub fn new(name: &'static str, kind: Kind, help: &'static str) -> Self {
        Self {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    pub fn sample(mut self, labels: Vec<(&'static str, String)>, value: f64) -> Self {
        self.samples.push(Sample { labels, value });
        self
    }
}

pub fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for family in families {
        let kind = match family.kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(out, "# TYPE {} {kind}", family.name);
        for sample in &family.samples {
            out.push_str(family.name);
            if !sample.labels.is_empty() {
                let labels: Vec<String> = sample
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                    .collect();
                let _ = write!(out, "{{{}}}", labels.join(","));
            }
            let _ = writeln!(out, " {}", format_value(sample.value));
        }
    }
    out
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_help_type_and_labelled_samples() {
        let families = [
            Family::new("hookrelay_events", Kind::Gauge, "Events on record.").sample(
                vec![("endpoint_id", "ep_1".into()), ("status", "dead".into())],
                3.0,
            ),
            Family::new(
                "hookrelay_sweeper_lag_seconds",
                Kind::Gauge,
                "Since the last sweep.",
            )
            .sample(vec![], 12.5),
        ];
        assert_eq!(
            render(&families),
            "# HELP hookrelay_events Events on record.\n\
             # TYPE hookrelay_events gauge\n\
             hookrelay_events{endpoint_id=\"ep_1\",status=\"dead\"} 3\n\
             # HELP hookrelay_sweeper_lag_seconds Since the last sweep.\n\
             # TYPE hookrelay_sweeper_lag_seconds gauge\n\
             hookrelay_sweeper_lag_seconds 12.5\n"
        );
    }

    #[test]
    fn escapes_label_values() {
        let f =
            Family::new("m", Kind::Counter, "h").sample(vec![("reason", "a\"b\\c\nd".into())], 1.0);
        assert!(render(&[f]).contains(r#"m{reason="a\"b\\c\nd"} 1"#));
    }
}
