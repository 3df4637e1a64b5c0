//! The report's summary: one row per target and pool with the billing figures, as
//! `summary.csv`, `summary.json` and the `index.html` table. Pure: rows in, bytes out.

use std::collections::HashSet;

use serde::Serialize;

use crate::model::Scope;
use crate::range::DateRange;
use crate::stats::Stats;
use crate::units::format_si;

/// One line of the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    pub name: String,
    /// `target` or `pool`.
    pub kind: &'static str,
    /// `ok` or `failed`.
    pub status: &'static str,
    /// `local` (drawn from raw data) or `provider:softlayer` / `provider:cloudwatch`.
    pub source: String,
    pub received_bytes: Option<f64>,
    pub transmitted_bytes: Option<f64>,
    pub receive_max: Option<f64>,
    pub transmit_max: Option<f64>,
    pub receive_avg: Option<f64>,
    pub transmit_avg: Option<f64>,
    pub percentile: Option<f64>,
    /// Share of the expected samples (range x period, per series) that are present.
    pub coverage: Option<f64>,
    pub png: Option<String>,
    pub csv: Option<String>,
    /// Why the row failed; on an `ok` row drawn by the provider, why raw data failed.
    pub error: Option<String>,
}

impl SummaryRow {
    /// A row from figures computed on raw data over `range` at `step_seconds`.
    pub fn from_stats(
        name: &str,
        kind: &'static str,
        stats: &Stats,
        range: DateRange,
        step_seconds: i64,
    ) -> SummaryRow {
        let get = |scope| stats.series.iter().filter(move |s| s.scope == scope);
        let sum_of = |scope, f: fn(&crate::stats::SeriesStats) -> f64| {
            let v: Vec<f64> = get(scope).map(f).collect();
            (!v.is_empty()).then(|| v.iter().sum())
        };
        let max_of =
            |scope, f: fn(&crate::stats::SeriesStats) -> f64| get(scope).map(f).reduce(f64::max);
        let expected_per_series = (range.days() as i64 * 86_400 / step_seconds.max(1)) as f64;
        let present: usize = stats.series.iter().map(|s| s.samples).sum();
        let coverage = (!stats.series.is_empty() && expected_per_series > 0.0)
            .then(|| (present as f64 / (expected_per_series * stats.series.len() as f64)).min(1.0));
        // A lone `total` series counts as both directions' sum: put it under received.
        let total = sum_of(Scope::Total, |s| s.total_bytes);
        SummaryRow {
            name: name.to_string(),
            kind,
            status: "ok",
            source: "local".into(),
            received_bytes: sum_of(Scope::Receive, |s| s.total_bytes).or(total),
            transmitted_bytes: sum_of(Scope::Transmit, |s| s.total_bytes),
            receive_max: max_of(Scope::Receive, |s| s.max).or(max_of(Scope::Total, |s| s.max)),
            transmit_max: max_of(Scope::Transmit, |s| s.max),
            receive_avg: sum_of(Scope::Receive, |s| s.avg).or(sum_of(Scope::Total, |s| s.avg)),
            transmit_avg: sum_of(Scope::Transmit, |s| s.avg),
            percentile: stats.percentile.as_ref().map(|p| p.value),
            coverage,
            png: None,
            csv: None,
            error: None,
        }
    }

    /// A row for a target or pool that could not be produced.
    pub fn failed(name: &str, kind: &'static str, error: String) -> SummaryRow {
        SummaryRow {
            name: name.to_string(),
            kind,
            status: "failed",
            source: String::new(),
            received_bytes: None,
            transmitted_bytes: None,
            receive_max: None,
            transmit_max: None,
            receive_avg: None,
            transmit_avg: None,
            percentile: None,
            coverage: None,
            png: None,
            csv: None,
            error: Some(error),
        }
    }
}

/// The whole summary and what it was computed over.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub range: DateRange,
    /// Rate unit of the max/avg/percentile columns.
    pub unit: &'static str,
    pub percentile_p: f64,
    pub percentile_of: String,
    pub rows: Vec<SummaryRow>,
}

impl Summary {
    pub fn failed(&self) -> usize {
        self.rows.iter().filter(|r| r.status != "ok").count()
    }

    /// `summary.csv`: exact figures (shortest round-trip form), empty cells where unknown.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let u = if self.unit == "bits/s" {
            "bits_per_s"
        } else {
            "bytes_per_s"
        };
        let headers = [
            "name".to_string(),
            "kind".into(),
            "status".into(),
            "source".into(),
            "start".into(),
            "end".into(),
            "received_bytes".into(),
            "transmitted_bytes".into(),
            format!("receive_max_{u}"),
            format!("transmit_max_{u}"),
            format!("receive_avg_{u}"),
            format!("transmit_avg_{u}"),
            format!("p{}_{}_{u}", self.percentile_p, self.percentile_of),
            "coverage".into(),
            "png".into(),
            "csv".into(),
            "error".into(),
        ];
        w.write_record(&headers).expect("write to memory");
        let num = |v: Option<f64>| v.map_or(String::new(), |x| x.to_string());
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        for r in &self.rows {
            w.write_record([
                r.name.clone(),
                r.kind.into(),
                r.status.into(),
                r.source.clone(),
                self.range.start.to_string(),
                self.range.end.to_string(),
                num(r.received_bytes),
                num(r.transmitted_bytes),
                num(r.receive_max),
                num(r.transmit_max),
                num(r.receive_avg),
                num(r.transmit_avg),
                num(r.percentile),
                num(r.coverage),
                text(&r.png),
                text(&r.csv),
                text(&r.error),
            ])
            .expect("write to memory");
        }
        w.into_inner().expect("flush to memory")
    }

    /// `summary.json`.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("serialise to memory");
        v.push(b'\n');
        v
    }

    /// `index.html`: self-contained (inline style, relative links, no script, no network).
    pub fn to_html(&self, title: &str) -> Vec<u8> {
        let suffix = if self.unit == "bits/s" { "b/s" } else { "B/s" };
        let dash = "<span class=\"na\">&ndash;</span>";
        let rate = |v: Option<f64>| v.map_or(dash.to_string(), |x| format_si(x, suffix));
        let bytes = |v: Option<f64>| v.map_or(dash.to_string(), |x| format_si(x, "B"));
        let targets = self.rows.iter().filter(|r| r.kind == "target").count();
        let pools = self.rows.len() - targets;
        let mut h = String::new();
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        h.push_str(&format!("<title>{}</title>\n", esc(title)));
        h.push_str(STYLE);
        h.push_str("</head>\n<body>\n<header>\n");
        h.push_str(&format!("<h1>{}</h1>\n", esc(title)));
        h.push_str(&format!(
            "<p class=\"meta\"><span>{} to {} (UTC days)</span><span>{targets} target{}, \
             {pools} pool{}</span><span class=\"{}\">{} failed</span><span>percentile: \
             nearest-rank p{} of {}</span><span>rates in {}</span></p>\n",
            self.range.start,
            self.range.end,
            if targets == 1 { "" } else { "s" },
            if pools == 1 { "" } else { "s" },
            if self.failed() > 0 { "bad" } else { "good" },
            self.failed(),
            self.percentile_p,
            esc(&self.percentile_of),
            esc(self.unit),
        ));
        h.push_str("</header>\n<main>\n<div class=\"table\">\n");
        h.push_str(
            "<table id=\"summary\">\n<thead><tr><th>Name</th><th>Kind</th><th>Status</th>\
             <th>Received</th><th>Transmitted</th><th>Max in</th><th>Max out</th>\
             <th>Avg in</th><th>Avg out</th><th>Percentile</th><th>Coverage</th>\
             <th>Source</th><th>Data</th></tr></thead>\n<tbody>\n",
        );
        for r in &self.rows {
            let name = match r.png.as_deref().map(anchor_id) {
                Some(a) => format!("<a href=\"#{a}\">{}</a>", esc(&r.name)),
                None => esc(&r.name),
            };
            let data = r.csv.as_deref().map_or(dash.to_string(), |c| {
                format!("<a href=\"{}\">CSV</a>", esc(c))
            });
            let head = format!(
                "<tr class=\"{}\"><td class=\"name\">{name}</td><td>{}</td>",
                r.status, r.kind
            );
            if let (Some(e), true) = (&r.error, r.status != "ok") {
                // The reason takes the figures' cells: there are no figures.
                h.push_str(&format!(
                    "{head}<td><span class=\"badge failed\">failed</span></td>\
                     <td colspan=\"9\" class=\"reason\">{}</td><td>{data}</td></tr>\n",
                    esc(e)
                ));
                continue;
            }
            h.push_str(&format!(
                "{head}<td><span class=\"badge ok\">ok</span></td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td class=\"pct\">{}</td><td>{}</td><td class=\"src\">{}</td><td>{data}</td></tr>\n",
                bytes(r.received_bytes),
                bytes(r.transmitted_bytes),
                rate(r.receive_max),
                rate(r.transmit_max),
                rate(r.receive_avg),
                rate(r.transmit_avg),
                rate(r.percentile),
                r.coverage
                    .map_or(dash.to_string(), |c| format!("{:.1}%", c * 100.0)),
                if r.source.is_empty() {
                    dash.to_string()
                } else {
                    match &r.error {
                        // A provider's graph: say why raw data could not be had.
                        Some(note) => format!(
                            "<span title=\"raw data failed: {0}\">{1} &#9888;</span>",
                            esc(note),
                            esc(&r.source)
                        ),
                        None => esc(&r.source),
                    }
                },
            ));
        }
        h.push_str("</tbody>\n</table>\n</div>\n<section class=\"graphs\">\n");
        for r in self.rows.iter().filter(|r| r.png.is_some()) {
            let png = r.png.as_deref().unwrap_or_default();
            h.push_str(&format!(
                "<figure id=\"{}\"><img src=\"{}\" alt=\"{} bandwidth graph\">\
                 <figcaption><strong>{}</strong> <span>{} &middot; {}</span></figcaption></figure>\n",
                anchor_id(png),
                esc(png),
                esc(&r.name),
                esc(&r.name),
                r.kind,
                esc(&r.source)
            ));
        }
        h.push_str(
            "</section>\n</main>\n<footer>Drawn by trafficgraph from the raw traffic statistics; \
                    figures are computed from the samples, not from the pictures.</footer>\n",
        );
        h.push_str("</body>\n</html>\n");
        h.into_bytes()
    }
}

const STYLE: &str = "<style>\n\
:root{--fg:#1f2933;--muted:#616e7c;--line:#e4e7eb;--head:#f5f7fa;--ok:#0f7b45;--bad:#b42318}\n\
*{box-sizing:border-box}\n\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:var(--fg);background:#fafbfc}\n\
header{background:#1f2933;color:#fff;padding:20px 32px}\n\
h1{margin:0 0 8px;font-size:22px;font-weight:600}\n\
.meta{margin:0;font-size:13px;color:#cbd2d9;display:flex;flex-wrap:wrap;gap:6px 20px}\n\
.meta .bad{color:#ffb4a9;font-weight:600}.meta .good{color:#a6e3b8}\n\
main{padding:24px 32px}\n\
.table{overflow-x:auto;background:#fff;border:1px solid var(--line);border-radius:8px}\n\
table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}\n\
th,td{padding:7px 10px;text-align:right;border-bottom:1px solid var(--line);white-space:nowrap;vertical-align:top}\n\
th{background:var(--head);color:var(--muted);font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.03em}\n\
th:nth-child(-n+3),td:nth-child(-n+3),td.src,th:nth-child(12){text-align:left}\n\
tbody tr:last-child td{border-bottom:none}\n\
tbody tr:hover{background:#f8fafc}\n\
tr.failed{background:#fff7f6}\n\
td.name a{color:#1d4ed8;text-decoration:none;font-weight:600}td.name{font-weight:600}\n\
td.pct{font-weight:600}td.src{color:var(--muted)}\n\
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}\n\
.badge.ok{background:#e3f7ea;color:var(--ok)}.badge.failed{background:#fde8e6;color:var(--bad)}\n\
td.reason{text-align:left;white-space:normal;font-size:12px;color:var(--bad);overflow-wrap:anywhere}\n\
.na{color:#9aa5b1}\n\
.graphs{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:20px;margin-top:24px}\n\
figure{margin:0;background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px}\n\
figure img{display:block;width:100%;height:auto}\n\
figcaption{margin-top:8px;font-size:13px}figcaption span{color:var(--muted);margin-left:6px}\n\
footer{padding:0 32px 24px;font-size:12px;color:var(--muted)}\n\
</style>\n";

fn anchor_id(png: &str) -> String {
    format!("g-{}", png.trim_end_matches(".png"))
}

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// File stems for names from the config: only `[A-Za-z0-9._-]`, no leading dot, at most 64
/// characters, never empty, and unique (case-insensitively) among themselves, so no name
/// can escape the output directory or overwrite another's files.
pub fn file_stems<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut used = HashSet::new();
    names
        .into_iter()
        .map(|name| {
            let mut stem: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            stem = stem.trim_matches('_').chars().take(64).collect();
            if stem.is_empty() {
                stem = "target".into();
            }
            let mut candidate = stem.clone();
            let mut n = 2;
            while !used.insert(candidate.to_ascii_lowercase()) {
                candidate = format!("{stem}-{n}");
                n += 1;
            }
            candidate
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_never_escape_and_never_collide() {
        let stems = file_stems([
            "../../etc/passwd",
            "web 01",
            "web/01",
            "",
            ".hidden",
            "WEB_01",
        ]);
        assert_eq!(
            stems,
            [
                "etc_passwd",
                "web_01",
                "web_01-2",
                "target",
                "hidden",
                "WEB_01-3"
            ]
        );
        for s in &stems {
            assert!(!s.contains('/') && !s.starts_with('.'), "{s}");
        }
    }

    #[test]
    fn html_escapes_names() {
        let s = Summary {
            range: DateRange::new("2026-01-01".parse().unwrap(), "2026-01-31".parse().unwrap())
                .unwrap(),
            unit: "bits/s",
            percentile_p: 95.0,
            percentile_of: "max".into(),
            rows: vec![SummaryRow::failed(
                "<script>x</script>",
                "target",
                "404 & gone".into(),
            )],
        };
        let html = String::from_utf8(s.to_html("Report")).unwrap();
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("404 &amp; gone"));
        let csv = String::from_utf8(s.to_csv()).unwrap();
        assert!(csv.lines().next().unwrap().contains("p95_max_bits_per_s"));
        assert_eq!(csv.lines().count(), 2);
    }
}
