//! The HTTP face of the twin: Kubernetes API paths, discovery, Table
//! output, watch streams, patches, and the twin-only `/twin/v1` paths.

mod control;
mod discovery;
mod objects;
mod params;
mod patch;
mod path;
mod respond;
mod router;
mod table;
mod watch;

pub use control::CONTROL_PREFIX;
pub use discovery::KUBE_VERSION;
pub use patch::strategic_merge;
pub use router::{MAX_BODY, router};
pub use table::{human_duration, pod_status_reason};
