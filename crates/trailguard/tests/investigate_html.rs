//! The HTML report in a real browser: headless Chromium (Debian's `chromium`, which
//! `.ci/run` installs) renders it, shows the key and the chart, and the search box
//! filters (the page reads `#q=...` into the box on load; the DOM is dumped and the
//! visible rows counted). Skipped, loudly, only when no Chromium is installed.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::{env, fs};

use assert_cmd::Command;

fn chromium() -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    for dir in env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn skip_loudly() {
    let msg = "SKIPPED: headless Chromium tests: no `chromium` in PATH (apt-get install -y chromium; .ci/run installs it when apt is available)";
    eprintln!(
        "\n{}\n{msg}\n{}\n",
        "!".repeat(msg.len()),
        "!".repeat(msg.len())
    );
    if env::var_os("TRAILGUARD_REQUIRE_CHROMIUM").is_some() {
        panic!("TRAILGUARD_REQUIRE_CHROMIUM is set but Chromium is missing");
    }
}

/// Runs Chromium headless on `url` with `args`; returns stdout.
fn browse(chrome: &Path, args: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Process::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--virtual-time-budget=5000", "--hide-scrollbars"])
        .args(args)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// (rows, visible rows) of the event table in a dumped DOM.
fn event_rows(dom: &str) -> (usize, usize) {
    let start = dom.find("<table id=\"events\"").expect("event table");
    let body = &dom[start..];
    let body = &body[body.find("<tbody>").expect("tbody")..body.find("</tbody>").expect("/tbody")];
    let rows: Vec<&str> = body.split("<tr").skip(1).collect();
    let visible = rows
        .iter()
        .filter(|r| !r[..r.find('>').unwrap_or(0)].contains("hidden"))
        .count();
    (rows.len(), visible)
}

#[test]
fn the_html_report_renders_and_its_search_box_filters() {
    let Some(chrome) = chromium() else {
        return skip_loudly();
    };
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    let logs =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/leaked-admin-key/AWSLogs");
    // A hostile user agent rides along: it must stay text.
    let hostile = dir.path().join("hostile.jsonl");
    fs::write(
        &hostile,
        r#"{"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::418295730164:user/admin","accessKeyId":"AKIAWCZC6J72ODEC6IFU"},"eventTime":"2025-09-17T23:20:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.73","userAgent":"<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">","eventID":"h-1"}"#,
    )
    .unwrap();
    Command::cargo_bin("trailguard")
        .unwrap()
        .args([
            "investigate",
            "--access-key",
            "AKIAWCZC6J72ODEC6IFU",
            "--format",
            "html",
            "-q",
            "--out",
        ])
        .arg(&report)
        .arg(&logs)
        .arg(&hostile)
        .assert()
        .success();
    let url = format!("file://{}", report.display());

    let dom = browse(&chrome, &["--dump-dom"], &url);
    assert!(dom.contains("AKIAWCZC6J72ODEC6IFU"), "the key is shown");
    assert!(dom.contains("<svg id=\"chart\""), "the chart is drawn");
    assert!(dom.matches("<rect").count() > 3, "the chart has bars");
    assert!(
        dom.contains("class=\"suspicious\""),
        "the suspicious window is shaded"
    );
    assert!(
        dom.contains("<title>trailguard investigation: AKIAWCZC6J72ODEC6IFU</title>"),
        "no script from the logs ran"
    );
    assert!(!dom.contains("pwned</title>"));
    let (rows, visible) = event_rows(&dom);
    assert_eq!((rows, visible), (29, 29), "every event is listed");

    let filtered = browse(&chrome, &["--dump-dom"], &format!("{url}#q=RunInstances"));
    assert_eq!(
        event_rows(&filtered),
        (29, 2),
        "the search box filters to the two RunInstances"
    );
    assert!(filtered.contains("<span id=\"shown\">2</span>"));
    let by_ip = browse(&chrome, &["--dump-dom"], &format!("{url}#q=198.51.100.73"));
    assert_eq!(event_rows(&by_ip).1, 5);

    let shot = dir.path().join("shot.png");
    browse(
        &chrome,
        &[
            "--window-size=1280,900",
            &format!("--screenshot={}", shot.display()),
        ],
        &url,
    );
    let png = fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
}
