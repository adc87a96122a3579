//! System tier: the HTML report of a failing and of a passing run, rendered
//! by a real browser (Debian's headless Chromium). Screenshots go to
//! `target/report-screenshots/` (the path is printed); the rendered DOM
//! (`--dump-dom`) must hold the lanes, the fault and budget lines and the
//! culprit highlights, with kube-multus-ds on the rebooted node in
//! Init:CrashLoopBackOff next to Ready lanes of the other nodes.
//!
//! Two tests: one renders real runs of the incident scenario on the twin
//! backend (`cni-chaos run`, Multus v4.2.1 and v4.2.3), the other
//! hand-built runs (`report_fixtures`) that also cover the kind report and
//! a 150-lane page.
//!
//! Skips with `SKIPPED: chromium not installed` on stderr when
//! `/usr/bin/chromium` is absent; fails instead under
//! `CHAOS_SYSTEM_TESTS=require`.

mod report_fixtures;
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cni_chaos::exec::{Command, LocalRunner, Runner};
use cni_chaos::report::{HTML_FILE, RunRecord, write_reports};
use report_fixtures as fx;

/// Where a headless browser may be: `CHAOS_CHROMIUM`, Debian's Chromium,
/// or the Google Chrome that GitHub's Ubuntu runners have.
const BROWSERS: &[&str] = &["/usr/bin/chromium", "/usr/bin/google-chrome"];
const TIMEOUT: Duration = Duration::from_secs(90);

/// The browser, if there is one; skips (or fails under
/// `CHAOS_SYSTEM_TESTS=require`) when there is not.
fn browser() -> Option<String> {
    let found = std::env::var("CHAOS_CHROMIUM")
        .ok()
        .filter(|p| Path::new(p).exists())
        .or_else(|| {
            BROWSERS
                .iter()
                .find(|p| Path::new(p).exists())
                .map(|p| (*p).to_string())
        });
    if found.is_some() {
        return found;
    }
    support::missing(&format!(
        "no headless browser ({BROWSERS:?} or CHAOS_CHROMIUM; apt-get install chromium)"
    ));
    None
}

/// `target/report-screenshots/`.
fn screenshot_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.parent().map_or_else(|| tmp.clone(), Path::to_path_buf);
    let dir = target.join("report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn failing_run() -> RunRecord {
    fx::record(
        "browser-failing",
        true,
        vec![
            fx::failing_scenario(),
            fx::passing_scenario("worker-reboot", 52_000),
        ],
    )
}

fn passing_run() -> RunRecord {
    fx::record(
        "browser-passing",
        true,
        vec![fx::passing_scenario("worker-reboot-multus-fixed", 52_000)],
    )
}

/// The browser with the flags that keep it offline and quiet, its own profile.
fn chromium(browser: &str, profile: &Path) -> Command {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .timeout(TIMEOUT)
}

async fn screenshot(runner: &LocalRunner, browser: &str, page: &Path, png: &Path) {
    let profile = tempfile::tempdir().unwrap();
    let cmd = chromium(browser, profile.path())
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1400,1000")
        .arg(format!("file://{}", page.display()));
    let out = runner
        .run(&cmd)
        .await
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    let meta = std::fs::metadata(png)
        .unwrap_or_else(|e| panic!("no screenshot {}: {e}\n{}", png.display(), out.stderr_str()));
    assert!(
        meta.len() > 10_000,
        "{} is suspiciously small",
        png.display()
    );
    eprintln!("screenshot: {}", png.display());
}

async fn dump_dom(runner: &LocalRunner, browser: &str, page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let cmd = chromium(browser, profile.path())
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()));
    let out = runner
        .run(&cmd)
        .await
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    let dom = out.stdout_str().into_owned();
    assert!(
        dom.contains("</html>"),
        "no DOM from {cmd}:\n{}",
        out.stderr_str()
    );
    dom
}

/// The HTML of one scenario's section in the DOM.
fn section<'a>(dom: &'a str, scenario: &str) -> &'a str {
    let marker = format!("data-scenario=\"{scenario}\"");
    let start = dom
        .match_indices("<section")
        .map(|(i, _)| i)
        .find(|i| {
            dom[*i..]
                .split_once('>')
                .is_some_and(|(tag, _)| tag.contains(&marker))
        })
        .unwrap_or_else(|| panic!("no section for {scenario}"));
    let end = dom[start..]
        .find("</section>")
        .map_or(dom.len(), |e| start + e);
    &dom[start..end]
}

/// The HTML of one lane (from its opening tag to the next lane).
fn lane<'a>(section: &'a str, key: &str) -> &'a str {
    let marker = format!("data-lane=\"{key}\"");
    let at = section
        .find(&marker)
        .unwrap_or_else(|| panic!("no lane {key}"));
    let start = section[..at].rfind("<div").unwrap();
    let end = section[at..]
        .find("data-lane=")
        .and_then(|_| section[at + marker.len()..].find("data-lane="))
        .map_or(section.len(), |e| at + marker.len() + e);
    &section[start..end]
}

fn opening_tag(html: &str) -> &str {
    html.split_once('>').map_or(html, |(t, _)| t)
}

fn states(lane: &str) -> Vec<&str> {
    lane.match_indices("data-state=\"")
        .map(|(i, m)| {
            let rest = &lane[i + m.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_failing_and_the_passing_run() {
    let Some(browser) = browser() else {
        return;
    };
    let out = screenshot_dir();
    let runner = LocalRunner::new();

    // Failing run: multus stuck on the rebooted node.
    let root = out.join("reports");
    let dir = write_reports(&root, &failing_run()).unwrap();
    let page = dir.join(HTML_FILE);
    screenshot(&runner, &browser, &page, &out.join("failing.png")).await;
    let dom = dump_dom(&runner, &browser, &page).await;
    assert!(dom.contains("id=\"simulated-banner\""));
    let s = section(&dom, "incidents::worker-reboot-multus");
    assert!(
        opening_tag(s).contains("verdict-fail"),
        "{}",
        opening_tag(s)
    );
    let lanes = s.matches("data-lane=\"").count();
    assert_eq!(
        lanes,
        fx::reboot_lanes(true).len(),
        "one lane per pod and node"
    );
    assert_eq!(s.matches("class=\"fault-line\"").count(), 1);
    assert_eq!(
        s.matches("class=\"budget-line").count(),
        2,
        "workloads-ready and node-ready budgets"
    );
    assert!(s.contains("data-budget-ms=\"180000\"") && s.contains("data-budget-ms=\"120000\""));

    let stuck = lane(s, &format!("kube-system/{}", fx::MULTUS_ON_REBOOTED));
    let tag = opening_tag(stuck);
    assert!(tag.contains("culprit"), "culprit highlighted: {tag}");
    assert!(
        tag.contains(&format!("data-node=\"{}\"", fx::REBOOTED)),
        "{tag}"
    );
    let st = states(stuck);
    assert_eq!(st.first(), Some(&"Ready"), "{st:?}");
    assert_eq!(st.last(), Some(&"Init:CrashLoopBackOff"), "{st:?}");
    assert!(
        st.iter().filter(|s| **s == "Init:CrashLoopBackOff").count() >= 3,
        "{st:?}"
    );

    let healthy = lane(s, &format!("kube-system/{}", fx::MULTUS_ON_HEALTHY));
    assert!(!opening_tag(healthy).contains("culprit"));
    assert!(opening_tag(healthy).contains("data-node=\"kind-worker2\""));
    assert_eq!(states(healthy), vec!["Ready"]);
    for node in ["kind-control-plane", "kind-worker2"] {
        assert_eq!(states(lane(s, node)), vec!["Ready"], "{node}");
    }
    assert!(opening_tag(lane(s, fx::REBOOTED)).contains("fault-target"));
    // Nodes first.
    assert!(
        s.find("data-lane=\"kind-worker2\"").unwrap() < s.find("data-lane=\"kube-system/").unwrap()
    );
    assert!(s.contains("<details class=\"diagnostics\">"));

    // Passing run: no culprits, multus Ready again.
    let dir = write_reports(&root, &passing_run()).unwrap();
    let page = dir.join(HTML_FILE);
    screenshot(&runner, &browser, &page, &out.join("passing.png")).await;
    let dom = dump_dom(&runner, &browser, &page).await;
    let s = section(&dom, "incidents::worker-reboot-multus-fixed");
    assert!(opening_tag(s).contains("verdict-pass"));
    assert!(!s.contains(" culprit\""), "no culprit lanes");
    assert_eq!(s.matches("class=\"budget-line\"").count(), 2);
    let recovered = lane(s, &format!("kube-system/{}", fx::MULTUS_ON_REBOOTED));
    assert_eq!(states(recovered).last(), Some(&"Ready"));
    assert!(!states(recovered).contains(&"Init:CrashLoopBackOff"));

    // A big cluster: 150 more pods stay readable (sticky labels, scrolling).
    let mut big = fx::failing_scenario();
    big.lanes.extend(fx::many_app_lanes(150));
    let dir = write_reports(&root, &fx::record("browser-many-lanes", false, vec![big])).unwrap();
    let page = dir.join(HTML_FILE);
    screenshot(&runner, &browser, &page, &out.join("many-lanes.png")).await;
    let dom = dump_dom(&runner, &browser, &page).await;
    let s = section(&dom, "incidents::worker-reboot-multus");
    assert_eq!(
        s.matches("data-lane=\"").count(),
        fx::reboot_lanes(true).len() + 150
    );
    assert!(
        !dom.contains("id=\"simulated-banner\""),
        "kind is not simulated"
    );
    eprintln!("screenshots in {}", out.display());
}

/// Runs the incident scenario on the twin with `cell` through the runner
/// binary; the report folder.
async fn twin_incident(runner: &LocalRunner, cell: &str, reports: &Path) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let cmd = Command::new(env!("CARGO_BIN_EXE_cni-chaos"))
        .args(["run", "--exact", "incident::worker-reboot-multus"])
        .env("CHAOS_BACKEND", "twin")
        .env(
            "CHAOS_SUITES",
            root.join("suites/incident.yaml").display().to_string(),
        )
        .env("CHAOS_VERSIONS", cell)
        .env("CHAOS_REPORT_DIR", reports.display().to_string())
        .env("CHAOS_SEED", "1")
        .timeout(TIMEOUT);
    let out = runner
        .run(&cmd)
        .await
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(out.status.success(), "{cmd}:\n{}", out.stderr_str());
    std::fs::canonicalize(reports.join("latest")).unwrap()
}

/// The `data-lane` keys of the pods named `prefix*` in a section, with the
/// lane's opening tag.
fn pod_lanes<'a>(section: &'a str, prefix: &str) -> Vec<(&'a str, &'a str)> {
    let marker = format!("data-lane=\"kube-system/{prefix}");
    section
        .match_indices(&marker)
        .map(|(i, _)| {
            let key_start = i + "data-lane=\"".len();
            let key = &section[key_start..key_start + section[key_start..].find('"').unwrap()];
            (key, lane(section, key))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_twin_incident_with_and_without_the_fix() {
    let Some(browser) = browser() else {
        return;
    };
    let out = screenshot_dir();
    let runner = LocalRunner::new();
    let reports = tempfile::tempdir().unwrap();
    let scenario = "incident::worker-reboot-multus";

    // Multus v4.2.1: the rebooted worker's kube-multus-ds is stuck.
    let dir = twin_incident(&runner, "kube-ovn-1.14-multus-4.2.1", reports.path()).await;
    let page = dir.join(HTML_FILE);
    screenshot(
        &runner,
        &browser,
        &page,
        &out.join("twin-incident-multus-4.2.1.png"),
    )
    .await;
    let dom = dump_dom(&runner, &browser, &page).await;
    assert!(dom.contains("id=\"simulated-banner\""));
    let s = section(&dom, scenario);
    assert!(
        opening_tag(s).contains("verdict-xfail"),
        "{}",
        opening_tag(s)
    );
    assert_eq!(s.matches("class=\"fault-line\"").count(), 1);
    assert!(
        s.matches("class=\"budget-line").count() >= 1 && s.contains("data-budget-ms=\"180000\""),
        "the 3 min budgets are drawn"
    );
    let rebooted = "chaos-twin-worker";
    assert!(opening_tag(lane(s, rebooted)).contains("fault-target"));
    let multus = pod_lanes(s, "kube-multus-ds-");
    assert_eq!(multus.len(), 3, "one Multus pod per node: {multus:?}");
    let (stuck, healthy): (Vec<_>, Vec<_>) = multus
        .iter()
        .partition(|(_, l)| opening_tag(l).contains(&format!("data-node=\"{rebooted}\"")));
    assert_eq!(stuck.len(), 1, "{multus:?}");
    let (key, l) = stuck[0];
    assert!(
        opening_tag(l).contains("culprit"),
        "culprit highlighted: {key}"
    );
    // The lane starts a minute before the fault (the new cluster coming
    // up may show there): Ready before the reboot, stuck at the end, with
    // the growing back-off in between.
    let st = states(l);
    let ready = st
        .iter()
        .position(|s| *s == "Ready")
        .expect("Ready before the fault");
    let first_loop = st
        .iter()
        .position(|s| *s == "Init:CrashLoopBackOff")
        .expect("Init:CrashLoopBackOff");
    assert!(ready < first_loop, "{key}: {st:?}");
    assert_eq!(st.last(), Some(&"Init:CrashLoopBackOff"), "{key}: {st:?}");
    assert!(
        st.iter().filter(|s| **s == "Init:CrashLoopBackOff").count() >= 3,
        "{key}: {st:?}"
    );
    for (key, l) in healthy {
        assert!(!opening_tag(l).contains("culprit"), "{key}");
        let st = states(l);
        assert_eq!(st.last(), Some(&"Ready"), "{key} on a healthy node: {st:?}");
        assert!(!st.iter().any(|s| s.contains("CrashLoop")), "{key}: {st:?}");
    }
    for node in ["chaos-twin-control-plane", "chaos-twin-worker2"] {
        assert_eq!(states(lane(s, node)).last(), Some(&"Ready"), "{node}");
        assert!(!opening_tag(lane(s, node)).contains("culprit"), "{node}");
    }

    // Multus v4.2.3: the same reboot, recovered, nothing highlighted.
    let dir = twin_incident(&runner, "kube-ovn-1.15-multus-4.2.3", reports.path()).await;
    let page = dir.join(HTML_FILE);
    screenshot(
        &runner,
        &browser,
        &page,
        &out.join("twin-incident-multus-4.2.3.png"),
    )
    .await;
    let dom = dump_dom(&runner, &browser, &page).await;
    let s = section(&dom, scenario);
    assert!(
        opening_tag(s).contains("verdict-pass"),
        "{}",
        opening_tag(s)
    );
    assert!(!s.contains(" culprit\""), "no culprit lanes");
    for (key, l) in pod_lanes(s, "kube-multus-ds-") {
        let st = states(l);
        assert_eq!(st.last(), Some(&"Ready"), "{key}: {st:?}");
        assert!(!st.contains(&"Init:CrashLoopBackOff"), "{key}: {st:?}");
    }
    eprintln!("screenshots in {}", out.display());
}
