//! Served mode: the twin on `127.0.0.1` with a kubeconfig, for real kubectl.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::error::ApiError;
use crate::snapshot::{self, ClusterSpec};
use crate::twin::{Twin, TwinConfig};

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Seed for the snapshot's names and uids.
    pub seed: u64,
    /// Virtual seconds per wall second.
    pub speed: f64,
    /// Virtual time at start.
    pub epoch: Timestamp,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Where to write the kubeconfig.
    pub kubeconfig: PathBuf,
    /// The cluster the snapshot imitates.
    pub cluster: ClusterSpec,
}

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The kubeconfig could not be written.
    #[error("cannot write kubeconfig {path}: {source}")]
    Kubeconfig {
        /// Its path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The snapshot could not be built (a bug).
    #[error("cannot build the cluster snapshot: {0}")]
    Snapshot(#[from] ApiError),
    /// The server failed.
    #[error("server error: {0}")]
    Serve(#[source] std::io::Error),
}

/// A kubeconfig for a plain-http server at `server`, context
/// `twin-<cluster>`.
pub fn kubeconfig(server: &str, cluster: &str) -> String {
    let name = format!("twin-{cluster}");
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: {server}\n  name: {name}\ncontexts:\n- context:\n    cluster: {name}\n    user: {name}\n  name: {name}\ncurrent-context: {name}\nusers:\n- name: {name}\n  user: {{}}\npreferences: {{}}\n"
    )
}

/// Writes `text` to `path` through a temporary file and a rename, creating
/// the parent directory.
pub(crate) fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// A bound, not yet running server.
#[derive(Debug)]
pub struct Bound {
    /// The twin being served.
    pub twin: Twin,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The kubeconfig written.
    pub kubeconfig: PathBuf,
    listener: tokio::net::TcpListener,
}

/// Builds the twin from its snapshot, binds 127.0.0.1 and writes the
/// kubeconfig.
pub async fn bind(config: &ServeConfig) -> Result<Bound, ServeError> {
    let twin = Twin::new(TwinConfig {
        seed: config.seed,
        speed: config.speed,
        epoch: config.epoch,
        ..TwinConfig::default()
    });
    snapshot::kind_cluster(&twin, &config.cluster)?;
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
    Ok(Bound {
        twin,
        addr,
        kubeconfig: config.kubeconfig.clone(),
        listener,
    })
}

impl Bound {
    /// Serves until `shutdown` resolves; then cuts open watches so
    /// connections close, and returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let app = self.twin.router();
        serve_until(self.listener, app, self.twin, shutdown).await
    }
}

/// Serves `app` until `shutdown` resolves, then cuts `twin`'s open watches
/// and returns once every connection is closed. Graceful shutdown waits for
/// open responses, and a watch (`kubectl get -w`) stays open up to its
/// 30-minute server timeout, so without the cut Ctrl-C would hang.
pub(crate) async fn serve_until(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    twin: Twin,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            twin.drop_watches(false);
        })
        .await
        .map_err(ServeError::Serve)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_names_the_twin_context() {
        let k = kubeconfig("http://127.0.0.1:1234", "chaos-twin");
        assert!(k.contains("server: http://127.0.0.1:1234"));
        assert!(k.contains("current-context: twin-chaos-twin"));
    }
}
