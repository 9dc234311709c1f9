//! Process metrics read from `/proc` at scrape time (Linux; elsewhere none), named as the
//! Prometheus client libraries name them so that existing dashboards work.

use std::fmt::Write;

/// `(name, type, help)` of every process metric.
pub const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
    ),
    (
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    ),
    (
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
    ),
    (
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
    ),
    (
        "process_max_fds",
        "gauge",
        "Maximum number of open file descriptors.",
    ),
    (
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
    ),
];

/// Kernel clock ticks per second as `/proc` reports them (`USER_HZ`): 100 on every Linux
/// architecture the server builds for; the kernel keeps it fixed for user space.
const TICKS_PER_SECOND: f64 = 100.0;

/// One sample per family that could be read, in [`FAMILIES`] order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Sample {
    /// `(name, value)`.
    pub values: Vec<(&'static str, f64)>,
}

impl Sample {
    /// Reads this process's figures; a file that cannot be read leaves its metrics out.
    pub fn read() -> Self {
        let mut values = Vec::with_capacity(FAMILIES.len());
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        let stat = stat.as_deref().and_then(Stat::parse);
        if let Some(stat) = &stat {
            values.push((
                "process_cpu_seconds_total",
                (stat.utime + stat.stime) as f64 / TICKS_PER_SECOND,
            ));
            values.push(("process_resident_memory_bytes", stat.rss_bytes()));
            values.push(("process_virtual_memory_bytes", stat.vsize as f64));
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            // read_dir's own descriptor is listed too: leave it out.
            values.push(("process_open_fds", dir.count().saturating_sub(1) as f64));
        }
        if let Some(max) = std::fs::read_to_string("/proc/self/limits")
            .ok()
            .as_deref()
            .and_then(max_fds)
        {
            values.push(("process_max_fds", max));
        }
        if let (Some(stat), Some(boot)) = (
            &stat,
            std::fs::read_to_string("/proc/stat")
                .ok()
                .as_deref()
                .and_then(boot_time),
        ) {
            values.push((
                "process_start_time_seconds",
                boot + stat.starttime as f64 / TICKS_PER_SECOND,
            ));
        }
        Self { values }
    }

    /// The Prometheus text of this sample, HELP and TYPE of every family included (also
    /// of those that could not be read, so that the set of families never changes).
    pub fn render(&self, out: &mut String) {
        for (name, kind, help) in FAMILIES {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            if let Some((_, v)) = self.values.iter().find(|(n, _)| n == name) {
                let _ = writeln!(out, "{name} {v}");
            }
            out.push('\n');
        }
    }
}

/// The fields of `/proc/self/stat` used here.
#[derive(Debug, PartialEq)]
struct Stat {
    utime: u64,
    stime: u64,
    starttime: u64,
    vsize: u64,
    rss_pages: u64,
}

impl Stat {
    /// `proc(5)`: the command name (field 2) is in parentheses and may hold spaces or
    /// parentheses itself, so fields are counted from the last `)`.
    fn parse(text: &str) -> Option<Self> {
        let rest = &text[text.rfind(')')? + 1..];
        // rest starts at field 3 (state): field n is index n - 3.
        let f: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
        Some(Self {
            utime: field(14)?,
            stime: field(15)?,
            starttime: field(22)?,
            vsize: field(23)?,
            rss_pages: field(24)?,
        })
    }

    fn rss_bytes(&self) -> f64 {
        // Pages of 4 KiB: the page size of x86-64 and of arm64 as distributions build it.
        (self.rss_pages * 4096) as f64
    }
}

/// `Max open files` soft limit from `/proc/self/limits`.
fn max_fds(limits: &str) -> Option<f64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `btime` (boot time, unix seconds) from `/proc/stat`.
fn boot_time(stat: &str) -> Option<f64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_command_name_holding_spaces_and_parentheses() {
        let line = "4242 (erp (server) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 \
                    9 0 123456 987654321 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1";
        let s = Stat::parse(line).unwrap();
        assert_eq!(
            s,
            Stat {
                utime: 250,
                stime: 75,
                starttime: 123456,
                vsize: 987654321,
                rss_pages: 2048
            }
        );
        assert!(Stat::parse("4242 (truncated").is_none());
        assert!(Stat::parse("4242 (x) S 1 2").is_none());
    }

    #[test]
    fn limits_and_boot_time() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(max_fds(limits), Some(1024.0));
        assert_eq!(
            boot_time("cpu 1 2 3\nbtime 1764633600\nprocesses 9\n"),
            Some(1764633600.0)
        );
        assert_eq!(boot_time("cpu 1 2 3\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_every_figure() {
        let sample = Sample::read();
        let names: Vec<&str> = sample.values.iter().map(|(n, _)| *n).collect();
        let all: Vec<&str> = FAMILIES.iter().map(|(n, _, _)| *n).collect();
        assert_eq!(names, all);
        let get = |n: &str| sample.values.iter().find(|(m, _)| *m == n).unwrap().1;
        assert!(get("process_resident_memory_bytes") > 0.0);
        assert!(get("process_open_fds") > 0.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = get("process_start_time_seconds");
        assert!(
            start <= now + 1.0 && start > now - 86_400.0,
            "{start} vs {now}"
        );
    }
}
