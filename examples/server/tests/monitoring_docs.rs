//! The example alert rules and Grafana dashboard in docs/monitoring/ name only metrics the
//! server exports, so that renaming a metric without updating them fails here.

use std::collections::BTreeSet;

use erp_server::observe::{exposition::HTTP_FAMILIES, process};

fn exported() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (name, kind, _) in HTTP_FAMILIES
        .iter()
        .chain(erp_auth::metrics::FAMILIES)
        .chain(process::FAMILIES)
    {
        names.insert((*name).to_owned());
        if *kind == "histogram" {
            for suffix in ["_bucket", "_count", "_sum"] {
                names.insert(format!("{name}{suffix}"));
            }
        }
    }
    names
}

/// Words of `text` that look like our metric names.
fn metric_names(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| {
            ["http_", "erp_auth_", "process_"]
                .iter()
                .any(|p| w.starts_with(p))
        })
        .map(str::to_owned)
        .collect()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../docs/monitoring/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn alert_rules_name_exported_metrics() {
    let rules = read("alerts.yml");
    let used = metric_names(&rules);
    assert!(used.len() >= 8, "{used:?}");
    let exported = exported();
    let unknown: Vec<_> = used.difference(&exported).collect();
    assert!(unknown.is_empty(), "not exported: {unknown:?}");
}

#[test]
fn dashboard_is_json_and_names_exported_metrics() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("grafana-dashboard.json")).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    let mut used = BTreeSet::new();
    for panel in panels {
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{panel}");
        for t in targets {
            used.extend(metric_names(t["expr"].as_str().unwrap()));
        }
    }
    let exported = exported();
    let unknown: Vec<_> = used.difference(&exported).collect();
    assert!(unknown.is_empty(), "not exported: {unknown:?}");
    // Every family is on the dashboard.
    for (name, _, _) in HTTP_FAMILIES.iter().chain(process::FAMILIES) {
        if *name != "process_virtual_memory_bytes" {
            assert!(
                used.iter().any(|u| u.starts_with(name)),
                "{name} is on no panel"
            );
        }
    }
}
