//! cni-chaos-twin: the digital twin of a kind cluster running Kube-OVN with
//! Multus.
//!
//! Two halves. The API half: an in-memory subset of the Kubernetes API
//! (discovery, get/list/watch/create/update/patch/delete, Table output) on a
//! [virtual clock](clock), with watch history, a ground-truth log and chaos
//! on the API itself. The [cluster model](model): node containers, kubelets,
//! Kube-OVN and Multus simulated from mechanisms on the same clock, which
//! owns the twin's pods, nodes and workloads once attached. Tests talk to
//! it in-process through [`Twin::client`]; `cni-chaos twin serve [--model
//! <version set>]` serves it on 127.0.0.1 for real kubectl.

pub mod api;
pub mod clock;
pub mod deletion;
pub mod error;
pub mod model;
pub mod resource;
pub mod selector;
pub mod serve;
pub mod snapshot;
pub mod store;
mod twin;

pub use twin::{DropSignal, LogQuery, LogSource, Twin, TwinConfig};
