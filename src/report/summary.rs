//! The report's summary: one row per target and pool with the billing figures, as
//! `summary.csv`, `summary.json` and the `index.html` table. Pure: rows in, bytes out.

use std::collections::HashSet;

use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Serialize;

use crate::model::Scope;
use crate::range::DateRange;
use crate::stats::Stats;
use crate::units::format_si;

/// What a summary row is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowKind {
    /// One `[[target]]`: a server's graph.
    Target,
    /// One `[[pool]]`: the sum of several targets.
    Pool,
}

/// Whether a row's graph and figures were produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowStatus {
    /// Drawn (from raw data, or the provider's picture: see `source`).
    Ok,
    /// Not drawn; `error` says why.
    Failed,
}

impl crate::model::Named for RowKind {
    const ALL: &'static [RowKind] = &[RowKind::Target, RowKind::Pool];
    const WHAT: &'static str = "row kind";
    fn name(self) -> &'static str {
        match self {
            RowKind::Target => "target",
            RowKind::Pool => "pool",
        }
    }
}

impl crate::model::Named for RowStatus {
    const ALL: &'static [RowStatus] = &[RowStatus::Ok, RowStatus::Failed];
    const WHAT: &'static str = "row status";
    fn name(self) -> &'static str {
        match self {
            RowStatus::Ok => "ok",
            RowStatus::Failed => "failed",
        }
    }
}

crate::model::display_by_name!(RowKind, RowStatus);

/// One line of the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    /// The target's or pool's name from the config.
    pub name: String,
    /// A target's row or a pool's.
    pub kind: RowKind,
    /// Drawn or failed.
    pub status: RowStatus,
    /// `local` (drawn from raw data) or `provider:softlayer` / `provider:cloudwatch`.
    pub source: String,
    /// Bytes received over the range (a lone `total` series counts here).
    pub received_bytes: Option<f64>,
    /// Bytes transmitted over the range.
    pub transmitted_bytes: Option<f64>,
    /// Largest receive rate, in the summary's unit (a lone `total` series counts here).
    pub receive_max: Option<f64>,
    /// Largest transmit rate, in the summary's unit.
    pub transmit_max: Option<f64>,
    /// Mean receive rate, in the summary's unit (a lone `total` series counts here).
    pub receive_avg: Option<f64>,
    /// Mean transmit rate, in the summary's unit.
    pub transmit_avg: Option<f64>,
    /// The percentile's rate, in the summary's unit.
    pub percentile: Option<f64>,
    /// Share of the expected samples (range x period, per series) that are present.
    pub coverage: Option<f64>,
    /// The graph's file name in the output directory, when one was written.
    pub png: Option<String>,
    /// The CSV's file name in the output directory, when one was written.
    pub csv: Option<String>,
    /// Why the row failed; on an `ok` row drawn by the provider, why raw data failed.
    pub error: Option<String>,
}

impl SummaryRow {
    /// A row from figures computed on raw data over `range` at `step_seconds`.
    pub fn from_stats(
        name: &str,
        kind: RowKind,
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
            status: RowStatus::Ok,
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
    pub fn failed(name: &str, kind: RowKind, error: String) -> SummaryRow {
        SummaryRow {
            name: name.to_string(),
            kind,
            status: RowStatus::Failed,
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
    /// The local days the report covers (inclusive).
    pub range: DateRange,
    /// Rate unit of the max/avg/percentile columns.
    pub unit: &'static str,
    /// The percentile computed, in (0, 100].
    pub percentile_p: f64,
    /// What the percentile is of: `receive`, `transmit`, `max` or `sum`.
    pub percentile_of: String,
    /// One row per target, then per pool.
    pub rows: Vec<SummaryRow>,
}

impl Summary {
    /// How many rows did not succeed.
    pub fn failed(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.status != RowStatus::Ok)
            .count()
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
                r.kind.to_string(),
                r.status.to_string(),
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

    /// `index.html`: one self-contained file (inline style and script, relative links, no
    /// network) for hundreds of rows: sortable columns, a filter by name, failed rows first,
    /// a lazily loaded thumbnail per graph that opens it at its natural size. Every value
    /// reaches the page through the template's escaping; the script reads the figures from
    /// `data-` attributes, never from text spliced into it.
    pub fn to_html(&self, title: &str) -> Vec<u8> {
        let suffix = if self.unit == "bits/s" { "b/s" } else { "B/s" };
        // Failed rows first, each group in the config's order.
        let mut rows: Vec<&SummaryRow> = self.rows.iter().collect();
        rows.sort_by_key(|r| r.status == RowStatus::Ok);
        let page = html! {
            (DOCTYPE)
            html lang="en" {
                (html_head(title))
                body {
                    (self.html_header(title))
                    main {
                        (html_tools(rows.len()))
                        div.table {
                            table #summary {
                                (html_columns())
                                tbody {
                                    @for r in &rows {
                                        (html_row(r, suffix))
                                    }
                                }
                            }
                        }
                    }
                    (html_viewer())
                    footer {
                        "Drawn by trafficgraph from the raw traffic statistics; figures are \
                         computed from the samples, not from the pictures."
                    }
                    script { (PreEscaped(SCRIPT)) }
                }
            }
        };
        let mut out = page.into_string().into_bytes();
        out.push(b'\n');
        out
    }

    /// The page's header: the title, the range, the counts of targets, pools and failures,
    /// the percentile and the unit.
    fn html_header(&self, title: &str) -> Markup {
        let targets = self
            .rows
            .iter()
            .filter(|r| r.kind == RowKind::Target)
            .count();
        let pools = self.rows.len() - targets;
        let failed = self.failed();
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        html! {
            header {
                h1 { (title) }
                p.meta {
                    span { (self.range.start) " to " (self.range.end) " (UTC days)" }
                    span {
                        (targets) " target" (plural(targets)) ", "
                        (pools) " pool" (plural(pools))
                    }
                    span class=(if failed > 0 { "bad" } else { "good" }) {
                        (failed) " failed"
                    }
                    span {
                        "percentile: nearest-rank p" (self.percentile_p) " of "
                        (self.percentile_of)
                    }
                    span { "rates in " (self.unit) }
                }
            }
        }
    }
}

/// The page's style and script: constants, with no value of the report spliced in.
const STYLE: &str = include_str!("index.css");
const SCRIPT: &str = include_str!("index.js");

/// The table's columns: header, and for a sortable one the key of the row's `data-`
/// attribute and whether it sorts as a number.
const COLUMNS: [(&str, Option<(&str, bool)>); 14] = [
    ("Name", Some(("name", false))),
    ("Kind", Some(("kind", false))),
    ("Status", Some(("status", false))),
    ("Received", Some(("rx", true))),
    ("Transmitted", Some(("tx", true))),
    ("Max in", Some(("rxmax", true))),
    ("Max out", Some(("txmax", true))),
    ("Avg in", Some(("rxavg", true))),
    ("Avg out", Some(("txavg", true))),
    ("Percentile", Some(("pct", true))),
    ("Coverage", Some(("cov", true))),
    ("Source", Some(("source", false))),
    ("Graph", None),
    ("Data", None),
];

/// The page's `head`: charset, viewport, title and the inline style.
fn html_head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) }
            style { (PreEscaped(STYLE)) }
        }
    }
}

/// The tools above the table: the filter by name, the count shown and a hint.
fn html_tools(rows: usize) -> Markup {
    html! {
        div.tools {
            input #filter type="search" placeholder="Filter by name"
                aria-label="Filter by name" autocomplete="off" spellcheck="false";
            span #shown aria-live="polite" {
                (rows) " of " (rows) " shown"
            }
            span.hint { "Click a column to sort; click a graph to see it at full size." }
        }
    }
}

/// The table's head: a sort button per sortable column, sorted by status at first.
fn html_columns() -> Markup {
    html! {
        thead {
            tr {
                @for (label, sort) in COLUMNS {
                    @match sort {
                        Some((key, numeric)) => th data-key=(key)
                            data-type=(if numeric { "num" } else { "text" })
                            aria-sort=[(key == "status").then_some("ascending")] {
                            button type="button" { (label) }
                        },
                        None => th { (label) },
                    }
                }
            }
        }
    }
}

/// One row of the table: its figures in `data-` attributes for the script, and in cells
/// as text (a failed row's reason in place of its figures), its thumbnail and CSV link.
fn html_row(r: &SummaryRow, suffix: &str) -> Markup {
    html! {
        tr class=(r.status) data-name=(r.name) data-kind=(r.kind)
            data-status=(r.status) data-source=(r.source)
            data-rx=[r.received_bytes] data-tx=[r.transmitted_bytes]
            data-rxmax=[r.receive_max] data-txmax=[r.transmit_max]
            data-rxavg=[r.receive_avg] data-txavg=[r.transmit_avg]
            data-pct=[r.percentile] data-cov=[r.coverage] {
            td.name { (r.name) }
            td { (r.kind) }
            @if let (Some(e), true) = (&r.error, r.status != RowStatus::Ok) {
                td { span.badge.failed { "failed" } }
                // The reason takes the figures' cells: there are none.
                td.reason colspan="9" { (e) }
            } @else {
                (html_figures(r, suffix))
            }
            td.graph {
                @match &r.png {
                    Some(png) => a.graph href=(png)
                        title=(format!("{} at full size", r.name)) {
                        img src=(png) loading="lazy" decoding="async"
                            width="150" height="50"
                            alt=(format!("{} bandwidth graph", r.name));
                    },
                    None => (na()),
                }
            }
            td {
                @match &r.csv {
                    Some(csv) => a href=(csv) { "CSV" },
                    None => (na()),
                }
            }
        }
    }
}

/// A drawn row's cells from status to source: the badge, the byte totals, the rates
/// (`suffix` being `b/s` or `B/s`), the coverage and where the graph came from.
fn html_figures(r: &SummaryRow, suffix: &str) -> Markup {
    let rate = |v: Option<f64>| match v {
        Some(x) => html! { (format_si(x, suffix)) },
        None => na(),
    };
    let bytes = |v: Option<f64>| match v {
        Some(x) => html! { (format_si(x, "B")) },
        None => na(),
    };
    html! {
        td { span.badge.ok { "ok" } }
        td { (bytes(r.received_bytes)) }
        td { (bytes(r.transmitted_bytes)) }
        td { (rate(r.receive_max)) }
        td { (rate(r.transmit_max)) }
        td { (rate(r.receive_avg)) }
        td { (rate(r.transmit_avg)) }
        td.pct { (rate(r.percentile)) }
        td {
            @match r.coverage {
                Some(c) => (format!("{:.1}%", c * 100.0)),
                None => (na()),
            }
        }
        td.src {
            @match (r.source.is_empty(), &r.error) {
                (true, _) => (na()),
                // A provider's graph: why raw data could not be had.
                (false, Some(note)) => span
                    title=(format!("raw data failed: {note}")) {
                    (r.source) " \u{26a0}"
                },
                (false, None) => (r.source),
            }
        }
    }
}

/// The mark of a value that is not known.
fn na() -> Markup {
    html! { span.na { "\u{2013}" } }
}

/// The dialog that shows a graph at full size, with previous/next and close.
fn html_viewer() -> Markup {
    html! {
        dialog #viewer aria-label="Graph at full size" {
            div.bar {
                strong #viewer-name {}
                span.hint { "\u{2190} \u{2192} previous / next, Esc closes" }
                a #viewer-open href="" { "open the PNG" }
                form method="dialog" { button type="submit" { "Close" } }
            }
            img #viewer-img alt="";
        }
    }
}

/// File stems for names from the config: only `[A-Za-z0-9_-]` (dots, slashes and every
/// other character become `_`, and outer `_` are trimmed, so no stem starts with a dot), at
/// most 64 characters before a `-2`, `-3`... suffix, never empty (`target`), and unique
/// (case-insensitively) among themselves, so no name can escape the output directory or
/// overwrite another's files.
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
            rows: vec![
                SummaryRow {
                    png: Some("a.png".into()),
                    status: RowStatus::Ok,
                    error: None,
                    ..SummaryRow::failed("a \"quoted\" 'name'", RowKind::Target, String::new())
                },
                SummaryRow::failed("<script>x</script>", RowKind::Target, "404 & gone".into()),
            ],
        };
        let html = String::from_utf8(s.to_html("Report <&>")).unwrap();
        assert!(html.contains("<td class=\"name\">&lt;script&gt;x&lt;/script&gt;</td>"));
        assert!(html.contains("data-name=\"&lt;script&gt;x&lt;/script&gt;\""));
        assert!(html.contains("<title>Report &lt;&amp;&gt;</title>"));
        assert!(!html.contains("<script>x"));
        // The page's own script, once, at the end; the style and script hold no end tag.
        assert_eq!(html.matches("<script>").count(), 1);
        assert!(!STYLE.contains("</") && !SCRIPT.contains("</"));
        assert!(html.contains("404 &amp; gone"));
        assert!(
            html.contains("data-name=\"a &quot;quoted&quot; 'name'\""),
            "{html}"
        );
        let csv = String::from_utf8(s.to_csv()).unwrap();
        assert!(csv.lines().next().unwrap().contains("p95_max_bits_per_s"));
        assert_eq!(csv.lines().count(), 3);
    }
}
