//! Bad input: one line on stderr naming the file and the place, exit code 1, and no output
//! file (not even a partial one).

use crate::util::{fixture, names_in, run_in, scratch, stderr};

/// Runs `export` and `render` on a bad fixture; both must fail the same way.
fn fails_with(name: &str, expected: &[&str]) {
    let dir = scratch();
    let input = fixture(name);
    for (cmd, out) in [("export", "out.csv"), ("render", "out.png")] {
        let o = run_in(
            dir.path(),
            &[
                cmd,
                "--input",
                &format!("receive={}", input.display()),
                "-o",
                out,
            ],
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{cmd} {name}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("trafficgraph: error: "), "{err}");
        assert!(
            err.contains(&input.display().to_string()),
            "names the file: {err}"
        );
        for e in expected {
            assert!(err.contains(e), "{cmd} {name}: expected {e:?} in {err}");
        }
        assert!(
            names_in(dir.path()).is_empty(),
            "left files behind: {:?}",
            names_in(dir.path())
        );
    }
}

#[test]
fn bad_date_names_line_and_column() {
    fails_with(
        "bad/bad-date.json",
        &["line 3, column", "bad date '05/05/2015 01:00'"],
    );
}

#[test]
fn bad_value_names_line_and_field() {
    fails_with(
        "bad/bad-value.csv",
        &["line 3, field 'values'", "'fast' is not a finite number"],
    );
}

#[test]
fn negative_count_names_line_and_field() {
    fails_with(
        "bad/bad-count.csv",
        &["line 3, field 'count'", "'-1' is not a whole count"],
    );
}

#[test]
fn uneven_row_names_line() {
    fails_with(
        "bad/uneven-row.csv",
        &["line 3", "2 fields where the header has 3"],
    );
}

#[test]
fn truncated_json_names_line() {
    fails_with("bad/truncated.json", &["line 3, column", "EOF"]);
}

#[test]
fn wrong_shape_names_missing_field() {
    fails_with(
        "bad/wrong-shape.json",
        &["line 2, column 59", "missing field `date`"],
    );
}

#[test]
fn provider_error_body_is_reported_as_such() {
    fails_with(
        "bad/overlimit-error.json",
        &["Hostway error response (overLimit)", "range is too large"],
    );
}

#[test]
fn empty_body_is_an_error() {
    fails_with("bad/empty.json", &["holds no data sets"]);
}

#[test]
fn unrelated_csv_is_refused() {
    fails_with("bad/not-traffic.csv", &["line 1", "not a traffic CSV"]);
}

#[test]
fn missing_file_is_named() {
    let dir = scratch();
    let o = run_in(
        dir.path(),
        &["export", "-i", "nope-receive.json", "-o", "x.csv"],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("nope-receive.json: No such file"), "{err}");
    assert!(names_in(dir.path()).is_empty());
}

#[test]
fn hostway_body_without_scope_asks_for_one() {
    let dir = scratch();
    let body = dir.path().join("body.json");
    std::fs::copy(fixture("hostway-small-receive.json"), &body).unwrap();
    let o = run_in(dir.path(), &["export", "-i", "body.json", "-o", "x.csv"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("--input receive=body.json"), "{err}");
    assert_eq!(names_in(dir.path()), vec!["body.json"]);
}

#[test]
fn bad_flags_are_usage_errors() {
    let dir = scratch();
    let input = fixture("hostway-small-receive.json");
    let input = input.to_str().unwrap();
    for (args, expected) in [
        (
            vec![
                "render",
                "-i",
                input,
                "-o",
                "g.png",
                "--timezone",
                "Mars/Base",
            ],
            "unknown time zone 'Mars/Base'",
        ),
        (
            vec!["render", "-i", input, "-o", "g.png", "--width", "50"],
            "out of range",
        ),
        (
            vec!["render", "-i", input, "-o", "g.png", "--percentile", "120"],
            "--percentile 120 out of range",
        ),
        (
            vec!["render", "-i", input, "-o", "g.png", "--theme", "neon"],
            "unknown theme 'neon'",
        ),
        (
            vec!["export", "-i", input, "-o", "x", "--format", "xml"],
            "unknown format 'xml'",
        ),
    ] {
        let o = run_in(dir.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(expected), "{args:?}: {}", stderr(&o));
        assert!(names_in(dir.path()).is_empty());
    }
}
