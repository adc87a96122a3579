//! Served mode stops promptly on Ctrl-C even while a client holds a watch
//! open (`kubectl get pods -w`): graceful shutdown waits for open
//! responses, and a watch lasts up to its 30-minute server timeout, so both
//! servers (the snapshot and the running model) cut open watches once the
//! shutdown signal arrives. Real sockets on 127.0.0.1, real time.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use cni_chaos_twin::clock::default_epoch;
use cni_chaos_twin::model::VersionProfile;
use cni_chaos_twin::serve::{ServeConfig, ServeError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// How long `run()` may take to return after the shutdown signal.
const STOP_WITHIN: Duration = Duration::from_secs(10);

fn config(dir: &tempfile::TempDir) -> ServeConfig {
    ServeConfig {
        seed: 1,
        speed: 1.0,
        epoch: default_epoch(),
        port: 0,
        kubeconfig: dir.path().join("kubeconfig"),
        cluster: Default::default(),
    }
}

/// Starts `run` (a server's run future, given its shutdown future), opens
/// `GET /api/v1/pods?watch=true` with plain HTTP/1.1, signals shutdown and
/// checks that `run` returns Ok within [`STOP_WITHIN`] and that the watch's
/// connection is closed.
async fn stops_with_a_watch_open<R>(addr: SocketAddr, run: impl FnOnce(oneshot::Receiver<()>) -> R)
where
    R: Future<Output = Result<(), ServeError>> + Send + 'static,
{
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(run(stopped));
    let mut watch = TcpStream::connect(addr).await.expect("connect");
    watch
        .write_all(b"GET /api/v1/pods?watch=true HTTP/1.1\r\nHost: twin\r\n\r\n")
        .await
        .expect("send the watch request");
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(STOP_WITHIN, watch.read(&mut buf))
            .await
            .expect("response head in time")
            .expect("read");
        assert!(n > 0, "connection closed before the response head");
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "a streamed watch: {head}"
    );
    stop.send(()).expect("server still running");
    let result = tokio::time::timeout(STOP_WITHIN, server)
        .await
        .expect("run() returned although a watch was open")
        .expect("server task");
    assert!(result.is_ok(), "{result:?}");
    let mut rest = Vec::new();
    tokio::time::timeout(STOP_WITHIN, watch.read_to_end(&mut rest))
        .await
        .expect("the watch connection was closed")
        .expect("read to end");
}

#[tokio::test]
async fn the_model_server_stops_with_a_watch_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = VersionProfile::named("default").expect("profile");
    let server = cni_chaos_twin::model::serve::bind(&config(&dir), profile)
        .await
        .expect("bind");
    let kubeconfig = std::fs::read_to_string(&server.kubeconfig).expect("kubeconfig");
    assert!(
        kubeconfig.contains(&format!("server: http://{}", server.addr)),
        "{kubeconfig}"
    );
    let addr = server.addr;
    stops_with_a_watch_open(addr, |stopped| {
        server.run(async move {
            let _ = stopped.await;
        })
    })
    .await;
}

#[tokio::test]
async fn the_snapshot_server_stops_with_a_watch_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = cni_chaos_twin::serve::bind(&config(&dir))
        .await
        .expect("bind");
    let addr = server.addr;
    stops_with_a_watch_open(addr, |stopped| {
        server.run(async move {
            let _ = stopped.await;
        })
    })
    .await;
}
