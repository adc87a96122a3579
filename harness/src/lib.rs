//! cni-chaos: a chaos and resilience test harness for Kubernetes clusters that
//! run Kube-OVN with Multus.
//!
//! The pieces, in data-flow order: [`suite`] files are loaded and validated; the
//! [`run`] engine drives each scenario through its phases against a
//! [`backend`] (kind, or the digital twin); [`fault`]s are injected with
//! evidence; [`observe`] watches the cluster into a timeline and judges the
//! recovery against [`slo`]s; [`report`]ers turn the run's events into JUnit,
//! JSON, Markdown and an HTML timeline. Every external program runs through
//! [`exec`]; everything the harness makes is recorded in the [`journal`]
//! first.

pub mod backend;
pub mod exec;
pub mod fault;
pub mod journal;
pub mod observe;
pub mod plan;
pub mod report;
pub mod run;
pub mod slo;
pub mod suite;
pub mod util;
