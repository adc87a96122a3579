//! Serving the model: `cni-chaos twin serve --model <versions>` runs the
//! cluster model behind the twin's API, plus the twin-only fault path
//! [`FAULT_PATH`] that `cni-chaos twin fault ...` posts to.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::driver::Model;
use super::error::ModelError;
use super::ops::Signal;
use super::profile::VersionProfile;
use super::world::{ModelConfig, World};
use crate::error::ApiError;
use crate::serve::{ServeConfig, ServeError, kubeconfig, serve_until, write_atomically};
use crate::twin::{Twin, TwinConfig};

/// Where faults are posted (JSON [`FaultOp`]).
pub const FAULT_PATH: &str = "/twin/v1/model/faults";
/// Node containers as `docker ps` would list them (GET).
pub const NODES_PATH: &str = "/twin/v1/model/nodes";

/// A node-level operation, as posted to [`FAULT_PATH`]. Node names may be
/// kind suffixes (`worker`, `worker2`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FaultOp {
    /// `docker restart` (or `docker kill` + `start` with `hard`).
    Reboot {
        /// Node.
        node: String,
        /// Kill instead of a graceful stop.
        #[serde(default)]
        hard: bool,
    },
    /// `pkill -<signal> -x <process>` in the node (`KILL`, `STOP`, `CONT`).
    Signal {
        /// Node.
        node: String,
        /// Process name.
        process: String,
        /// Signal name.
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
    /// `rm -f`.
    FileRemove {
        /// Node.
        node: String,
        /// Absolute path.
        path: String,
    },
    /// `truncate -s 0`.
    FileTruncate {
        /// Node.
        node: String,
        /// Absolute path.
        path: String,
    },
    /// Writes a file.
    FileWrite {
        /// Node.
        node: String,
        /// Absolute path.
        path: String,
        /// Contents.
        content: String,
        /// Mode (octal digits), default 644.
        #[serde(default)]
        mode: Option<String>,
    },
    /// `ovs-vsctl add-port br-int <port>`, optionally naming a netns.
    OvsPort {
        /// Node.
        node: String,
        /// Port name.
        port: String,
        /// The netns it claims to belong to.
        #[serde(default)]
        netns: Option<String>,
    },
    /// `docker network disconnect`.
    Disconnect {
        /// Node.
        node: String,
    },
    /// `docker network connect`.
    Reconnect {
        /// Node.
        node: String,
    },
    /// A `multus-shim` blocked on the missing daemon socket, holding the
    /// binary busy.
    BusyShim {
        /// Node.
        node: String,
    },
}

impl FaultOp {
    /// The HTTP request that posts this fault to a served twin (for
    /// `kube::Client::request_text`).
    pub fn request(&self) -> Result<axum::http::Request<Vec<u8>>, String> {
        let body = serde_json::to_vec(self).map_err(|e| e.to_string())?;
        axum::http::Request::post(FAULT_PATH)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .map_err(|e| e.to_string())
    }

    /// Applies the operation; returns what it did.
    pub fn apply(&self, w: &mut World) -> Result<String, ModelError> {
        Ok(match self {
            FaultOp::Reboot { node, hard } => {
                w.restart_node(node, !hard)?;
                format!(
                    "{} restart of {node}",
                    if *hard { "hard" } else { "graceful" }
                )
            }
            FaultOp::Signal {
                node,
                process,
                signal,
            } => {
                let sig = match signal
                    .trim_start_matches("SIG")
                    .to_ascii_uppercase()
                    .as_str()
                {
                    "KILL" | "9" => Signal::Kill,
                    "STOP" | "19" => Signal::Stop,
                    "CONT" | "18" => Signal::Cont,
                    other => {
                        return Err(ModelError::Invalid {
                            what: "signal".into(),
                            why: format!("{other:?}: expected KILL, STOP or CONT"),
                        });
                    }
                };
                let pids = w.signal(node, process, sig)?;
                format!("SIG{signal} {process} pids {pids:?} on {node}")
            }
            FaultOp::NetnsAdd { node, name } => {
                w.create_netns(node, name)?;
                format!("netns {name} added on {node}")
            }
            FaultOp::NetnsDelete { node, name } => {
                w.delete_netns(node, name)?;
                format!("netns {name} deleted on {node}")
            }
            FaultOp::FileRemove { node, path } => {
                let f = w.remove_file(node, path)?;
                format!("removed {path} (inode {}) on {node}", f.inode)
            }
            FaultOp::FileTruncate { node, path } => {
                w.truncate_file(node, path)?;
                format!("truncated {path} on {node}")
            }
            FaultOp::FileWrite {
                node,
                path,
                content,
                mode,
            } => {
                let mode = match mode {
                    None => 0o644,
                    Some(m) => u32::from_str_radix(m, 8).map_err(|e| ModelError::Invalid {
                        what: "mode".into(),
                        why: format!("{m:?}: {e}"),
                    })?,
                };
                w.write_file(node, path, content, mode)?;
                format!("wrote {path} on {node}")
            }
            FaultOp::OvsPort { node, port, netns } => {
                w.add_ovs_port(node, port, netns.as_deref())?;
                format!("added OVS port {port} on {node}")
            }
            FaultOp::Disconnect { node } => {
                w.disconnect(node)?;
                format!("disconnected {node}")
            }
            FaultOp::Reconnect { node } => {
                w.reconnect(node)?;
                format!("reconnected {node}")
            }
            FaultOp::BusyShim { node } => {
                let pid = w.exec_shim(node)?;
                format!("multus-shim pid {pid} blocks on {node}")
            }
        })
    }
}

type Reply = (StatusCode, [(header::HeaderName, &'static str); 1], String);

fn reply(code: StatusCode, body: Value) -> Reply {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}

/// A refused fault, as the API's own `Status` (so kube-rs and kubectl show
/// its message).
fn failure(err: &ApiError) -> Reply {
    let code = StatusCode::from_u16(err.code()).unwrap_or(StatusCode::BAD_REQUEST);
    reply(code, err.status())
}

async fn post_fault(State(model): State<Arc<Model>>, body: Bytes) -> Reply {
    let op: FaultOp = match serde_json::from_slice(&body) {
        Ok(op) => op,
        Err(e) => {
            return failure(&ApiError::BadRequest {
                message: format!("bad fault: {e}"),
            });
        }
    };
    match model.with(|w| op.apply(w)) {
        Ok(done) => reply(StatusCode::OK, json!({"done": done})),
        // A node that is down cannot take the fault now (409); anything
        // else (no such node, file or process; a bad path) is a bad request.
        Err(e @ ModelError::NodeDown { .. }) => failure(&ApiError::Precondition {
            message: e.to_string(),
        }),
        Err(e) => failure(&ApiError::BadRequest {
            message: e.to_string(),
        }),
    }
}

async fn get_nodes(State(model): State<Arc<Model>>) -> Reply {
    let nodes = model.with(|w| w.node_infos());
    reply(
        StatusCode::OK,
        json!({"nodes": nodes.iter().map(|n| json!({
        "name": n.name, "controlPlane": n.control_plane, "up": n.up, "ip": n.ip,
        "connected": n.connected, "boot": n.boot, "startedAtMs": n.started_at,
    })).collect::<Vec<_>>()}),
    )
}

/// The twin's API plus the model's fault and node paths.
pub fn router(twin: &Twin, model: Arc<Model>) -> axum::Router {
    axum::Router::new()
        .route(FAULT_PATH, post(post_fault))
        .route(NODES_PATH, get(get_nodes))
        .with_state(model)
        .fallback_service(twin.router())
}

/// A bound server running the model.
#[derive(Debug)]
pub struct ModelServer {
    /// The twin.
    pub twin: Twin,
    /// The model inside it.
    pub model: Arc<Model>,
    /// Where it listens (127.0.0.1 only).
    pub addr: SocketAddr,
    /// The kubeconfig written for it.
    pub kubeconfig: PathBuf,
    listener: tokio::net::TcpListener,
}

/// Builds an empty twin, attaches the model for `profile`, listens on
/// 127.0.0.1 and writes the kubeconfig.
pub async fn bind(
    config: &ServeConfig,
    profile: VersionProfile,
) -> Result<ModelServer, ServeError> {
    let twin = Twin::new(TwinConfig {
        seed: config.seed,
        speed: config.speed,
        epoch: config.epoch,
        ..TwinConfig::default()
    });
    let mut cfg = ModelConfig::new(&config.cluster.name, profile);
    cfg.seed = config.seed;
    cfg.workers = config.cluster.workers;
    let model = Arc::new(Model::attach(&twin, cfg));
    let addr = SocketAddr::from(([127, 0, 0, 1], config.port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let text = kubeconfig(&format!("http://{addr}"), &config.cluster.name);
    write_atomically(&config.kubeconfig, &text).map_err(|source| ServeError::Kubeconfig {
        path: config.kubeconfig.clone(),
        source,
    })?;
    Ok(ModelServer {
        twin,
        model,
        addr,
        kubeconfig: config.kubeconfig.clone(),
        listener,
    })
}

impl ModelServer {
    /// Serves until `shutdown` completes; then cuts open watches so their
    /// connections close (as the snapshot server does), and returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let app = router(&self.twin, self.model.clone());
        serve_until(self.listener, app, self.twin, shutdown).await
    }
}
