//! Histograms with fixed buckets, for every histogram the process records (the HTTP
//! durations, the auth layer's verification time, upstream latencies).
//!
//! `metrics-exporter-prometheus` keeps each histogram sample, with a clock reading, in a
//! lock-free list until the next scrape folds it into the buckets: about 165
//! instructions a sample, two samples on every request, and memory that grows with the
//! traffic while nobody scrapes. Here a sample is one bucket search, one relaxed atomic
//! addition and a compare-and-swap for the sum, and the memory is fixed. The buckets are
//! the ones [`DURATION_BUCKETS`](super::http_metrics::DURATION_BUCKETS) names, and the
//! text is written with the exporter's own escaping and HELP/TYPE writers, so the
//! exposition is the exporter's with those buckets (and a label value reads the same in
//! a histogram as in the counter beside it).

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

use metrics::{HistogramFn, Key};
use metrics_exporter_prometheus::formatting::{
    sanitize_label_key, sanitize_label_value, write_help_line, write_type_line,
};

use super::http_metrics::DURATION_BUCKETS;

/// One labelled series: a count per bucket (not cumulative) and the sum; the count is the
/// buckets' total.
#[derive(Debug)]
pub struct FixedHistogram {
    bounds: &'static [f64],
    /// `bounds.len() + 1` slots: the last one counts samples above every bound.
    buckets: Box<[AtomicU64]>,
    /// The sum's `f64` bits.
    sum: AtomicU64,
}

impl FixedHistogram {
    /// An empty series over `bounds` (ascending upper bounds).
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Records `value` (a NaN counts in no bucket but `+Inf`, as Prometheus' clients do).
    pub fn observe(&self, value: f64) {
        let slot = self
            .bounds
            .iter()
            .position(|&b| value <= b)
            .unwrap_or(self.bounds.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        // A compare-and-swap loop: atomics have no floating-point addition. Uncontended
        // (one worker per core, samples microseconds apart) it succeeds at once.
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }

    /// The cumulative count of each bucket (`+Inf` last, the series' count) and the sum.
    fn snapshot(&self) -> (Vec<u64>, f64) {
        let mut total = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|b| {
                total += b.load(Ordering::Relaxed);
                total
            })
            .collect();
        (cumulative, f64::from_bits(self.sum.load(Ordering::Relaxed)))
    }
}

impl HistogramFn for FixedHistogram {
    fn record(&self, value: f64) {
        self.observe(value);
    }
}

/// Every histogram series of the process, by name, then by label set.
#[derive(Debug, Default)]
pub struct Histograms {
    families: Mutex<BTreeMap<String, Family>>,
}

#[derive(Debug, Default)]
struct Family {
    help: Option<String>,
    /// By the label pairs, rendered (`method="GET",route="/auth/me"`), in the key's order.
    series: BTreeMap<String, Arc<FixedHistogram>>,
}

impl Histograms {
    /// The process-wide set (the recorder is process-wide too).
    pub fn global() -> &'static Self {
        static GLOBAL: OnceLock<Histograms> = OnceLock::new();
        GLOBAL.get_or_init(Self::default)
    }

    /// The series of `key`, created on first use. Called when a handle is registered,
    /// not per sample: the callers keep their handles.
    pub fn series(&self, key: &Key) -> Arc<FixedHistogram> {
        let mut labels = String::new();
        for (i, label) in key.labels().enumerate() {
            if i > 0 {
                labels.push(',');
            }
            let _ = write!(
                labels,
                "{}=\"{}\"",
                sanitize_label_key(label.key()),
                sanitize_label_value(label.value())
            );
        }
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        let family = families.entry(key.name().to_owned()).or_default();
        Arc::clone(
            family
                .series
                .entry(labels)
                .or_insert_with(|| Arc::new(FixedHistogram::new(DURATION_BUCKETS))),
        )
    }

    /// Keeps `help` for the family `name` (its `# HELP` line).
    pub fn describe(&self, name: &str, help: &str) {
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        families.entry(name.to_owned()).or_default().help = Some(help.to_owned());
    }

    /// Appends the Prometheus text of every family with at least one series.
    pub fn render(&self, out: &mut String) {
        let families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        for (name, family) in families.iter().filter(|(_, f)| !f.series.is_empty()) {
            if let Some(help) = &family.help {
                write_help_line(out, name, None, None, help);
            }
            write_type_line(out, name, None, None, "histogram");
            for (labels, series) in &family.series {
                let (cumulative, sum) = series.snapshot();
                let sep = if labels.is_empty() { "" } else { "," };
                for (bound, count) in series.bounds.iter().zip(&cumulative) {
                    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
                }
                let count = cumulative.last().copied().unwrap_or(0);
                let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
                let braces = |s: &str| {
                    if s.is_empty() {
                        String::new()
                    } else {
                        format!("{{{s}}}")
                    }
                };
                let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
                let _ = writeln!(out, "{name}_count{} {count}", braces(labels));
            }
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_bounds_inclusive() {
        static BOUNDS: &[f64] = &[0.001, 0.01, 0.1];
        let h = FixedHistogram::new(BOUNDS);
        for v in [0.0005, 0.001, 0.005, 0.5, 7.0] {
            h.observe(v);
        }
        let (cumulative, sum) = h.snapshot();
        assert_eq!(cumulative, vec![2, 3, 3, 5]);
        assert!((sum - 7.5065).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn renders_the_text_format() {
        let set = Histograms::default();
        let key = Key::from_parts(
            "t_seconds",
            vec![
                metrics::Label::new("route", "/a/{id}"),
                metrics::Label::new("odd", "say \"hi\"\\"),
            ],
        );
        set.describe("t_seconds", "Time.");
        set.series(&key).observe(0.0002);
        set.series(&key).observe(20.0);
        let mut out = String::new();
        set.render(&mut out);
        let labels = r#"route="/a/{id}",odd="say \"hi\"\\""#;
        assert!(
            out.starts_with("# HELP t_seconds Time.\n# TYPE t_seconds histogram\n"),
            "{out}"
        );
        assert!(
            out.contains(&format!("t_seconds_bucket{{{labels},le=\"0.00005\"}} 0\n")),
            "{out}"
        );
        assert!(
            out.contains(&format!("t_seconds_bucket{{{labels},le=\"0.00025\"}} 1\n")),
            "{out}"
        );
        assert!(
            out.contains(&format!("t_seconds_bucket{{{labels},le=\"10\"}} 1\n")),
            "{out}"
        );
        assert!(
            out.contains(&format!("t_seconds_bucket{{{labels},le=\"+Inf\"}} 2\n")),
            "{out}"
        );
        assert!(
            out.contains(&format!("t_seconds_sum{{{labels}}} 20.0002\n")),
            "{out}"
        );
        assert!(
            out.contains(&format!("t_seconds_count{{{labels}}} 2\n")),
            "{out}"
        );
    }

    #[test]
    fn a_family_without_series_is_left_to_the_placeholder() {
        let set = Histograms::default();
        set.describe("t_seconds", "Time.");
        let mut out = String::new();
        set.render(&mut out);
        assert!(out.is_empty(), "{out}");
    }
}
