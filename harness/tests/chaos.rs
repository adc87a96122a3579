//! The main job: `cargo test --test chaos`. One trial per scenario in
//! `suites/`, named `suite::scenario`; see the README for the variables.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    cni_chaos::run::main(
        libtest_mimic::Arguments::from_args(),
        cni_chaos::run::RunDefaults {
            suites_dir: root.join("suites"),
            report_dir: root.join("reports"),
        },
    )
}
