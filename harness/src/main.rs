//! The `cni-chaos` command: validate suite files, run them (the same runner
//! as `cargo test --test chaos`), or serve the digital twin for kubectl.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Chaos and resilience tests for Kubernetes clusters running Kube-OVN with Multus.
#[derive(Parser, Debug)]
#[command(name = "cni-chaos", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate suite files with exactly the loader the runner uses; exits
    /// non-zero and lists every problem (file:line:column, field, rule) on error.
    Validate {
        /// Suite files or folders of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run scenarios: the same runner as `cargo test --test chaos`. Arguments
    /// after `--` are libtest's (`--list`, a filter, `--exact`, `--ignored`, ...).
    /// Suites default to ./suites and reports to ./reports (CHAOS_SUITES,
    /// CHAOS_REPORT_DIR override).
    Run {
        /// libtest arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Pull every image versions.yaml pins (node images by digest; Kube-OVN,
    /// its NAT gateway and Multus by tag, as they are pinned) and the probes'
    /// images with `docker pull`, attempting each; exits non-zero listing
    /// every image that failed and where it is pinned. The nightly's first
    /// step, so a wrong pin fails at once.
    PullImages {
        /// Only this cell of versions.yaml [default: every cell].
        #[arg(long)]
        cell: Option<String>,
        /// The version matrix.
        #[arg(long, default_value = "versions.yaml")]
        matrix: PathBuf,
        /// Time limit of one pull, in seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Print the nightly's matrix: the cells of versions.yaml (kind version,
    /// node image) and shards of each cell's scenarios with stable ids, each
    /// with its suites, scenarios, cluster profiles and an estimate in
    /// minutes from harness/estimates.json. Fails, naming the shard, when a
    /// shard cannot be kept under the limit.
    Matrix {
        /// Print JSON (what the nightly workflow reads) instead of a table.
        #[arg(long)]
        json: bool,
        /// Only these cells (comma-separated) [default: every cell].
        #[arg(long, value_delimiter = ',')]
        cell: Vec<String>,
        /// Only these suites (comma-separated names in --suites-dir)
        /// [default: every suite].
        #[arg(long, value_delimiter = ',')]
        suites: Vec<String>,
        /// The version matrix.
        #[arg(long, default_value = "versions.yaml")]
        matrix: PathBuf,
        /// The suites folder.
        #[arg(long, default_value = "suites")]
        suites_dir: PathBuf,
        /// The per-scenario twin times.
        #[arg(long, default_value = cni_chaos::plan::ESTIMATES_FILE)]
        estimates: PathBuf,
        /// The longest a shard may be estimated at, in minutes.
        #[arg(long, default_value_t = 45)]
        limit_minutes: u64,
    },
    /// Find and download a shard's trend baseline with `gh`: the newest
    /// completed scheduled run of the workflow on the branch with an
    /// unexpired `reports-<cell>--*` artifact; every such artifact of that
    /// run goes to DIR/<artifact>. No such run prints "baseline: none" and
    /// succeeds.
    Baseline {
        /// owner/name [default: $GITHUB_REPOSITORY].
        #[arg(long)]
        repo: Option<String>,
        /// The workflow file.
        #[arg(long, default_value = "nightly.yml")]
        workflow: String,
        /// The default branch.
        #[arg(long)]
        branch: String,
        /// The cell whose shards' artifacts count.
        #[arg(long)]
        cell: String,
        /// Where to download.
        #[arg(long, default_value = "baseline")]
        dir: PathBuf,
        /// How many of the newest scheduled runs to look at.
        #[arg(long, default_value_t = 30)]
        runs: u32,
        /// Time limit of each gh command, in seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Clean up after kind runs that died without their teardown (SIGKILL,
    /// OOM, a cancelled CI job): reads the undo journal
    /// ($CHAOS_JOURNAL_DIR, else $XDG_STATE_HOME/cni-chaos/journal, else
    /// ~/.local/state/cni-chaos/journal), and for each run of this host
    /// whose owner is gone kills its leftover child processes, undoes its
    /// faults on nodes (only while each node container is still the one
    /// recorded), and deletes the clusters it created (never a
    /// CHAOS_CLUSTER one; kept ones only with --delete-kept). Prints
    /// `did:`, `left:`, `live:` and `warning:` lines; exits non-zero when
    /// something was left or a journal could not be read.
    Clean {
        /// Say what would be done, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also delete clusters kept with CHAOS_KEEP_CLUSTER.
        #[arg(long)]
        delete_kept: bool,
    },
    /// The digital twin.
    Twin {
        #[command(subcommand)]
        command: TwinCommand,
    },
}

#[derive(Subcommand, Debug)]
enum TwinCommand {
    /// Serve the twin's Kubernetes API on 127.0.0.1 (plain http) and write a
    /// kubeconfig for it; runs until Ctrl-C or SIGTERM. Prints
    /// `twin: serving http://127.0.0.1:PORT kubeconfig PATH`, then
    /// `export KUBECONFIG=PATH`.
    Serve {
        /// Seed for the snapshot's names and uids and, with --model, every
        /// timing, name and address choice of the model.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Virtual seconds per wall-clock second (more than 0, at most
        /// 100000).
        #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
        speed: f64,
        /// Port on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Kubeconfig to write [default: $CHAOS_REPORT_DIR/twin/kubeconfig,
        /// else reports/twin/kubeconfig].
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// Virtual time at start (RFC 3339) [default: 2026-01-01T00:00:00Z].
        #[arg(long)]
        epoch: Option<jiff::Timestamp>,
        /// Run the cluster model for this version set (e.g.
        /// `kube-ovn-1.14-multus-4.2.1`) instead of the static snapshot, so
        /// `twin fault` can break it.
        #[arg(long, value_name = "VERSIONS")]
        model: Option<String>,
    },
    /// Apply a node-level fault to a twin served with `--model`, the way
    /// the kind backend would on a node container.
    Fault {
        /// Kubeconfig of the served twin [default: $KUBECONFIG, else
        /// reports/twin/kubeconfig].
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        #[command(subcommand)]
        fault: FaultCommand,
    },
}

/// `cni-chaos twin fault ...`; NODE may be a kind suffix (`worker2`).
#[derive(Subcommand, Debug)]
enum FaultCommand {
    /// `docker restart` the node (`--hard`: `docker kill` + `docker start`).
    Reboot {
        /// Node.
        node: String,
        /// Kill instead of a graceful stop.
        #[arg(long)]
        hard: bool,
    },
    /// Signal a process by name inside the node.
    Signal {
        /// Node.
        node: String,
        /// Process name, e.g. ovs-vswitchd.
        process: String,
        /// KILL, STOP or CONT.
        #[arg(long, default_value = "KILL")]
        signal: String,
    },
    /// `ip netns add`.
    NetnsAdd {
        /// Node.
        node: String,
        /// Namespace name.
        name: String,
    },
    /// `ip netns delete`.
    NetnsDelete {
        /// Node.
        node: String,
        /// Namespace name.
        name: String,
    },
    /// `rm -f` a file.
    Rm {
        /// Node.
        node: String,
        /// Absolute path.
        path: String,
    },
    /// `truncate -s 0` a file.
    Truncate {
        /// Node.
        node: String,
        /// Absolute path.
        path: String,
    },
    /// Write a file.
    Write {
        /// Node.
        node: String,
        /// Absolute path.
        path: String,
        /// Contents.
        content: String,
        /// Octal mode [default: 644].
        #[arg(long)]
        mode: Option<String>,
    },
    /// Add a (stale) OVS port on br-int.
    OvsPort {
        /// Node.
        node: String,
        /// Port name.
        port: String,
        /// The netns it claims to belong to.
        #[arg(long)]
        netns: Option<String>,
    },
    /// Disconnect the node from the cluster network.
    Disconnect {
        /// Node.
        node: String,
    },
    /// Reconnect the node.
    Reconnect {
        /// Node.
        node: String,
    },
    /// Start a multus-shim ADD: while the daemon does not answer it waits (up
    /// to 60 s) and keeps the binary busy.
    BusyShim {
        /// Node.
        node: String,
    },
}

impl FaultCommand {
    fn op(self) -> cni_chaos_twin::model::serve::FaultOp {
        use cni_chaos_twin::model::serve::FaultOp as F;
        match self {
            FaultCommand::Reboot { node, hard } => F::Reboot { node, hard },
            FaultCommand::Signal {
                node,
                process,
                signal,
            } => F::Signal {
                node,
                process,
                signal,
            },
            FaultCommand::NetnsAdd { node, name } => F::NetnsAdd { node, name },
            FaultCommand::NetnsDelete { node, name } => F::NetnsDelete { node, name },
            FaultCommand::Rm { node, path } => F::FileRemove { node, path },
            FaultCommand::Truncate { node, path } => F::FileTruncate { node, path },
            FaultCommand::Write {
                node,
                path,
                content,
                mode,
            } => F::FileWrite {
                node,
                path,
                content,
                mode,
            },
            FaultCommand::OvsPort { node, port, netns } => F::OvsPort { node, port, netns },
            FaultCommand::Disconnect { node } => F::Disconnect { node },
            FaultCommand::Reconnect { node } => F::Reconnect { node },
            FaultCommand::BusyShim { node } => F::BusyShim { node },
        }
    }
}

/// `--speed`: a finite number in (0, [`MAX_SPEED`]].
fn parse_speed(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && v > 0.0 && v <= MAX_SPEED {
        Ok(v)
    } else {
        Err(format!(
            "{s:?} is out of range: virtual seconds per second must be more than 0 and at most {MAX_SPEED}"
        ))
    }
}

/// The fastest `twin serve` runs: a virtual day in under a second of wall
/// time, beyond which nothing could observe it anyway.
const MAX_SPEED: f64 = 100_000.0;

/// `cni-chaos pull-images`: every image `matrix` pins for `cell` (or all
/// cells), pulled on the host.
fn pull_images(matrix: &Path, cell: Option<&str>, timeout: Duration) -> ExitCode {
    use cni_chaos::backend::kind::{VersionMatrix, pinned_images, pull_all};
    let images = match VersionMatrix::load(matrix).and_then(|m| pinned_images(&m, cell)) {
        Ok(images) => images,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for p in &images {
        println!("docker pull {} ({}; {})", p.image, p.source, p.how());
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runner = cni_chaos::exec::LocalRunner::new();
    match runtime.block_on(pull_all(&runner, &images, timeout)) {
        Ok(()) => {
            println!("ok: {} pinned images pulled", images.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `cni-chaos matrix`.
fn print_matrix(
    json: bool,
    cells: &[String],
    suites: &[String],
    paths: (&Path, &Path, &Path),
    limit: Duration,
) -> ExitCode {
    let (versions, suites_dir, estimates) = paths;
    let suite_paths: Vec<PathBuf> = if suites.is_empty() {
        vec![suites_dir.to_path_buf()]
    } else {
        suites
            .iter()
            .map(|s| suites_dir.join(format!("{}.yaml", s.trim())))
            .collect()
    };
    let cells = (!cells.is_empty()).then_some(cells);
    let m = match cni_chaos::plan::matrix(
        versions,
        &suite_paths,
        estimates,
        cells,
        cni_chaos::plan::Constants::default(),
        limit,
    ) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        match serde_json::to_string(&m) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: cannot render the matrix as JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
    // A Markdown table: readable in a terminal and in a job summary.
    println!("| cell | kind | node image | Kube-OVN | Multus |\n|---|---|---|---|---|");
    for c in &m.cells {
        println!(
            "| {} | {} | `{}` | {} | {} |",
            c.name, c.kind_version, c.node_image, c.kube_ovn, c.multus
        );
    }
    println!(
        "\n| shard | estimate (limit {} min) | scenarios | clusters provisioned | profiles |\n|---|---|---|---|---|",
        m.limit_minutes
    );
    for s in &m.shards {
        let provisions: u32 = s.clusters.iter().map(|c| c.provisions).sum();
        println!(
            "| {} | {} min | {} | {provisions} | {} |",
            s.id,
            s.estimate_minutes,
            s.scenarios.len(),
            s.profiles.join(", ")
        );
    }
    ExitCode::SUCCESS
}

/// `cni-chaos baseline`.
fn baseline(query: cni_chaos::plan::BaselineQuery) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runner = cni_chaos::exec::LocalRunner::new();
    match runtime.block_on(cni_chaos::plan::find_baseline(&runner, &query)) {
        Ok(found) => {
            match (found.run_id, &found.none) {
                (Some(id), _) => println!(
                    "baseline: run {id}: {} in {}",
                    found.artifacts.join(", "),
                    query.dir.display()
                ),
                (None, Some(why)) => println!("baseline: none: {why}"),
                (None, None) => println!("baseline: none"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `cni-chaos clean`: replays the undo journal of dead runs.
fn clean(dry_run: bool, delete_kept: bool) -> ExitCode {
    use cni_chaos::backend::kind::{CleanOptions, clean};
    let journal = match cni_chaos::journal::Journal::from_env() {
        Ok(j) => j,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = CleanOptions::from_env(dry_run, delete_kept);
    let runner = std::sync::Arc::new(cni_chaos::exec::LocalRunner::new());
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            rt.block_on(clean(&journal, runner, &options))
                .map_err(|e| e.to_string())
        });
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: clean: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "clean{}: journal {}",
        if dry_run {
            " --dry-run (nothing is changed)"
        } else {
            ""
        },
        journal.root().display()
    );
    for line in report.lines() {
        println!("{line}");
    }
    println!(
        "clean: {} dead run(s); {} done, {} left, {} live run(s), {} warning(s)",
        report.dead_runs,
        report.did.len(),
        report.left.len(),
        report.live.len(),
        report.warnings.len()
    );
    if report.left.is_empty() && report.warnings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Posts a fault to the served twin named by `kubeconfig`.
fn twin_fault(kubeconfig: Option<PathBuf>, fault: FaultCommand) -> ExitCode {
    let path = kubeconfig
        .or_else(|| std::env::var_os("KUBECONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("reports").join("twin").join("kubeconfig"));
    let request = match fault.op().request() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            rt.block_on(async {
                let kc = kube::config::Kubeconfig::read_from(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
                    .await
                    .map_err(|e| e.to_string())?;
                let client = kube::Client::try_from(config).map_err(|e| e.to_string())?;
                client.request_text(request).await.map_err(|e| match e {
                    // The twin's refusal says what is wrong (no such node,
                    // node down, bad path); show that, not the Status dump.
                    kube::Error::Api(s) if !s.message.is_empty() => {
                        format!("{} ({} {})", s.message, s.code, s.reason)
                    }
                    other => other.to_string(),
                })
            })
        });
    match result {
        Ok(text) => {
            let done = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["done"].as_str().map(str::to_string))
                .unwrap_or(text);
            println!("twin: {done}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: twin fault: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What `twin serve` serves: the static snapshot or the running model.
enum Served {
    Snapshot(cni_chaos_twin::serve::Bound),
    Model(cni_chaos_twin::model::serve::ModelServer),
}

fn twin_serve(
    seed: u64,
    speed: f64,
    port: u16,
    kubeconfig: Option<PathBuf>,
    epoch: Option<jiff::Timestamp>,
    model: Option<String>,
) -> ExitCode {
    use cni_chaos_twin::serve::{ServeConfig, bind};
    let profile = match model
        .as_deref()
        .map(|v| (v, cni_chaos_twin::model::VersionProfile::named(v)))
    {
        None => None,
        Some((_, Some(p))) => Some(p),
        Some((v, None)) => {
            let known: Vec<String> = cni_chaos_twin::model::VersionProfile::all()
                .into_iter()
                .map(|p| p.name)
                .collect();
            eprintln!(
                "error: --model {v:?} is not a version set: expected one of {}",
                known.join(", ")
            );
            return ExitCode::FAILURE;
        }
    };
    let kubeconfig = kubeconfig.unwrap_or_else(|| {
        std::env::var_os("CHAOS_REPORT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("reports"))
            .join("twin")
            .join("kubeconfig")
    });
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let config = ServeConfig {
            seed,
            speed,
            epoch: epoch.unwrap_or_else(cni_chaos_twin::clock::default_epoch),
            port,
            kubeconfig,
            cluster: Default::default(),
        };
        let bound = match profile {
            None => bind(&config).await.map(Served::Snapshot),
            Some(p) => cni_chaos_twin::model::serve::bind(&config, p)
                .await
                .map(Served::Model),
        };
        let bound = match bound {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let (addr, kubeconfig) = match &bound {
            Served::Snapshot(b) => (b.addr, b.kubeconfig.clone()),
            Served::Model(m) => (m.addr, m.kubeconfig.clone()),
        };
        let path = std::path::absolute(&kubeconfig).unwrap_or(kubeconfig);
        println!("twin: serving http://{addr} kubeconfig {}", path.display());
        println!("export KUBECONFIG={}", path.display());
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async {
                    match term.as_mut() {
                        Some(t) => { t.recv().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {}
            }
        };
        let result = match bound {
            Served::Snapshot(b) => b.run(shutdown).await,
            Served::Model(m) => m.run(shutdown).await,
        };
        match result {
            Ok(()) => {
                eprintln!("twin: stopped");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { paths } => match cni_chaos::run::load_suites(&paths, None) {
            Ok(suites) => {
                let scenarios: usize = suites.iter().map(|s| s.scenarios.len()).sum();
                println!("ok: {} suites, {scenarios} scenarios", suites.len());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Run { args } => {
            let argv = std::iter::once("cni-chaos run".to_string()).chain(args);
            let args = libtest_mimic::Arguments::from_iter(argv);
            cni_chaos::run::main(
                args,
                cni_chaos::run::RunDefaults {
                    suites_dir: PathBuf::from("suites"),
                    report_dir: PathBuf::from("reports"),
                    base: std::env::current_dir().unwrap_or_default(),
                },
            )
        }
        Command::PullImages {
            cell,
            matrix,
            timeout,
        } => pull_images(&matrix, cell.as_deref(), Duration::from_secs(timeout)),
        Command::Matrix {
            json,
            cell,
            suites,
            matrix,
            suites_dir,
            estimates,
            limit_minutes,
        } => print_matrix(
            json,
            &cell,
            &suites,
            (&matrix, &suites_dir, &estimates),
            Duration::from_secs(limit_minutes * 60),
        ),
        Command::Baseline {
            repo,
            workflow,
            branch,
            cell,
            dir,
            runs,
            timeout,
        } => {
            let Some(repo) = repo.or_else(|| std::env::var("GITHUB_REPOSITORY").ok()) else {
                eprintln!("error: --repo is not given and GITHUB_REPOSITORY is not set");
                return ExitCode::FAILURE;
            };
            baseline(cni_chaos::plan::BaselineQuery {
                repo,
                workflow,
                branch,
                artifact_prefix: format!("reports-{cell}--"),
                dir,
                runs,
                timeout: Duration::from_secs(timeout),
            })
        }
        Command::Clean {
            dry_run,
            delete_kept,
        } => clean(dry_run, delete_kept),
        Command::Twin {
            command:
                TwinCommand::Serve {
                    seed,
                    speed,
                    port,
                    kubeconfig,
                    epoch,
                    model,
                },
        } => twin_serve(seed, speed, port, kubeconfig, epoch, model),
        Command::Twin {
            command: TwinCommand::Fault { kubeconfig, fault },
        } => twin_fault(kubeconfig, fault),
    }
}
