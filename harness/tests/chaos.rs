//! The main job: `cargo test --test chaos`. One trial per scenario in
//! `suites/`, named `suite::scenario`; see the README for the variables.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    // cargo runs this binary in harness/; paths are the workspace's.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = manifest
        .parent()
        .map_or_else(|| manifest.join(".."), PathBuf::from);
    cni_chaos::run::main(
        libtest_mimic::Arguments::from_args(),
        cni_chaos::run::RunDefaults {
            suites_dir: root.join("suites"),
            report_dir: root.join("reports"),
            base: root,
        },
    )
}
