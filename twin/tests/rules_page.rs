//! The model's rules page, `twin/RULES.md`, generated from the rule tags in
//! the doc comments under `twin/src/`:
//!
//! ```text
//! /// Rule `some-id`: one sentence stating the mechanism.
//! /// Source: owner/repo@tag:path (symbol or note)
//! /// Pinned by: harness/tests/file.rs::test_name
//! ```
//!
//! `Source:` may repeat and is required (`FACTS.md (section)` only where no
//! upstream line exists); `Pinned by:` is optional and names a test by its
//! path from the repository root. A tag ends at an empty doc line, a line
//! that is not a doc comment, or the next `Rule`.
//!
//! `rules_page_is_up_to_date` fails when the page differs from what the
//! tags give; `CHAOS_BLESS=1 cargo test -p cni-chaos-twin --test
//! rules_page` rewrites it. `every_pinned_test_exists` checks that each
//! cited test is there (a file with `fn <name>`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One rule tag.
#[derive(Debug)]
struct Rule {
    id: String,
    statement: String,
    sources: Vec<String>,
    pinned: Vec<String>,
    /// `path:line` of the `Rule` line, from the repository root.
    at: String,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The text of a doc-comment line (`///` or `//!`), if it is one.
fn doc_text(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let rest = t.strip_prefix("///").or_else(|| t.strip_prefix("//!"))?;
    Some(rest.strip_prefix(' ').unwrap_or(rest).trim_end())
}

/// `owner/repo@tag:path (note)` or `FACTS.md (section)`.
fn well_formed_source(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix("FACTS.md (") {
        return rest.ends_with(')') && rest.len() > 1;
    }
    let (location, note) = match s.split_once(' ') {
        Some((l, n)) => (l, Some(n)),
        None => (s, None),
    };
    let ok_note = note.is_none_or(|n| n.starts_with('(') && n.ends_with(')') && n.len() > 2);
    let Some((repo, rest)) = location.split_once('@') else {
        return false;
    };
    let Some((tag, path)) = rest.split_once(':') else {
        return false;
    };
    let name_ok = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    let repo_ok = repo
        .split_once('/')
        .is_some_and(|(o, r)| name_ok(o) && name_ok(r));
    repo_ok && !tag.is_empty() && !path.is_empty() && !path.starts_with('/') && ok_note
}

fn well_formed_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Every rule tag under `twin/src`, and every problem with them.
fn scan() -> (Vec<Rule>, Vec<String>) {
    let root = repo_root();
    let mut files = Vec::new();
    rust_files(&root.join("twin/src"), &mut files);
    let mut rules: Vec<Rule> = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&root)
            .expect("under the root")
            .display()
            .to_string();
        let text = std::fs::read_to_string(&file).expect("read source");
        let mut open: Option<Rule> = None;
        let close = |open: &mut Option<Rule>, rules: &mut Vec<Rule>| {
            if let Some(r) = open.take() {
                rules.push(r);
            }
        };
        for (i, line) in text.lines().enumerate() {
            let at = format!("{rel}:{}", i + 1);
            let Some(doc) = doc_text(line) else {
                if line.contains("Rule `") {
                    problems.push(format!("{at}: a rule tag outside a doc comment"));
                }
                close(&mut open, &mut rules);
                continue;
            };
            if let Some(rest) = doc.strip_prefix("Rule `") {
                close(&mut open, &mut rules);
                let Some((id, statement)) = rest.split_once("`:") else {
                    problems.push(format!("{at}: expected Rule `id`: statement"));
                    continue;
                };
                if !well_formed_id(id) {
                    problems.push(format!(
                        "{at}: rule id {id:?} is not lowercase letters, digits and '-'"
                    ));
                }
                open = Some(Rule {
                    id: id.to_string(),
                    statement: statement.trim().to_string(),
                    sources: Vec::new(),
                    pinned: Vec::new(),
                    at,
                });
                continue;
            }
            let Some(rule) = open.as_mut() else {
                if doc.starts_with("Source:") || doc.starts_with("Pinned by:") {
                    problems.push(format!("{at}: {doc:?} outside a rule tag"));
                }
                continue;
            };
            if doc.is_empty() {
                close(&mut open, &mut rules);
            } else if let Some(s) = doc.strip_prefix("Source:") {
                let s = s.trim();
                if !well_formed_source(s) {
                    problems.push(format!(
                        "{at}: source {s:?} is not `owner/repo@tag:path (note)` or `FACTS.md (section)`"
                    ));
                }
                rule.sources.push(s.to_string());
            } else if let Some(p) = doc.strip_prefix("Pinned by:") {
                let p = p.trim();
                if !p.contains("::") {
                    problems.push(format!("{at}: {p:?} is not <path>::<test fn>"));
                }
                rule.pinned.push(p.to_string());
            } else if rule.sources.is_empty() && rule.pinned.is_empty() {
                // The statement goes on.
                rule.statement.push(' ');
                rule.statement.push_str(doc);
            } else {
                problems.push(format!(
                    "{at}: text after the sources of rule `{}`; end the tag with an empty doc line",
                    rule.id
                ));
            }
        }
        close(&mut open, &mut rules);
    }
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for r in &rules {
        if r.sources.is_empty() {
            problems.push(format!("{}: rule `{}` has no Source", r.at, r.id));
        }
        if r.statement.is_empty() || !r.statement.ends_with('.') {
            problems.push(format!(
                "{}: rule `{}`: the statement is one sentence ending in '.'",
                r.at, r.id
            ));
        }
        if let Some(first) = seen.insert(&r.id, &r.at) {
            problems.push(format!(
                "{}: rule id `{}` is already used at {first}",
                r.at, r.id
            ));
        }
    }
    (rules, problems)
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn render(rules: &[Rule]) -> String {
    let mut sorted: Vec<&Rule> = rules.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = String::new();
    out.push_str("# The twin's rules\n\n");
    out.push_str(
        "Generated from the `Rule` tags in the doc comments under `twin/src/` by\n\
         `twin/tests/rules_page.rs`; do not edit. After changing a tag, run\n\
         `CHAOS_BLESS=1 cargo test -p cni-chaos-twin --test rules_page`.\n\n\
         Each rule is one mechanism the model encodes, the upstream source it\n\
         was read from (`owner/repo@tag:path`, or FACTS.md where no upstream\n\
         line exists), and the system test that pins the belief on real\n\
         components, where one does.\n\n",
    );
    out.push_str(&format!("{} rules.\n\n", sorted.len()));
    out.push_str("| Rule | Statement | Sources | Pinned by | Where |\n");
    out.push_str("|---|---|---|---|---|\n");
    for r in sorted {
        let sources: Vec<String> = r.sources.iter().map(|s| format!("`{}`", cell(s))).collect();
        let pinned: Vec<String> = r.pinned.iter().map(|p| format!("`{}`", cell(p))).collect();
        let at = r.at.rsplit_once(':').map_or(r.at.as_str(), |(f, _)| f);
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | `{}` |\n",
            r.id,
            cell(&r.statement),
            sources.join("<br>"),
            if pinned.is_empty() {
                "none yet".to_string()
            } else {
                pinned.join("<br>")
            },
            at
        ));
    }
    out
}

/// The first lines where `want` and `have` differ, diff-like.
fn difference(want: &str, have: &str) -> String {
    let (w, h): (Vec<&str>, Vec<&str>) = (want.lines().collect(), have.lines().collect());
    let mut out = Vec::new();
    for i in 0..w.len().max(h.len()) {
        let (a, b) = (w.get(i), h.get(i));
        if a != b {
            if let Some(b) = b {
                out.push(format!("-{:>4} {b}", i + 1));
            }
            if let Some(a) = a {
                out.push(format!("+{:>4} {a}", i + 1));
            }
        }
        if out.len() >= 20 {
            out.push("...".into());
            break;
        }
    }
    out.join("\n")
}

#[test]
fn rule_tags_are_well_formed_and_unique() {
    let (rules, problems) = scan();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(rules.len() >= 20, "{} rules", rules.len());
}

#[test]
fn rules_page_is_up_to_date() {
    let (rules, _) = scan();
    let want = render(&rules);
    let path = repo_root().join("twin/RULES.md");
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have == want {
        return;
    }
    if std::env::var("CHAOS_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &want).expect("write RULES.md");
        return;
    }
    panic!(
        "twin/RULES.md is out of date (- on disk, + from the tags); regenerate it with\n  CHAOS_BLESS=1 cargo test -p cni-chaos-twin --test rules_page\n{}",
        difference(&want, &have)
    );
}

#[test]
fn every_pinned_test_exists() {
    let (rules, _) = scan();
    let root = repo_root();
    let mut missing = Vec::new();
    for r in &rules {
        for p in &r.pinned {
            let Some((file, name)) = p.split_once("::") else {
                continue;
            };
            let found = std::fs::read_to_string(root.join(file))
                .is_ok_and(|text| text.contains(&format!("fn {name}(")));
            if !found {
                missing.push(format!("rule `{}` ({}): {p}", r.id, r.at));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "pinned tests not found:\n{}",
        missing.join("\n")
    );
}

#[test]
fn malformed_tags_are_reported() {
    assert!(well_formed_source(
        "k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/server/config/manager.go (Start)"
    ));
    assert!(well_formed_source("FACTS.md (kind node facts)"));
    assert!(!well_formed_source("multus-cni manager.go"));
    assert!(!well_formed_source("owner/repo@v1:/abs/path"));
    assert!(!well_formed_source(
        "owner/repo@v1:path note without parens"
    ));
    assert!(well_formed_id("multus-clean-exit-removes-config"));
    assert!(!well_formed_id("Multus_Clean"));
    assert_eq!(doc_text("    /// Rule `x`: y."), Some("Rule `x`: y."));
    assert_eq!(doc_text("// Rule `x`: y."), None);
}
