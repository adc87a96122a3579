//! Observation: pure conditions on pods and nodes, the Timeline of changes,
//! and SLO evaluation against it.

pub mod conditions;
mod diagnose;
mod evaluate;
pub mod flows;
mod gate;
mod lanes;
pub mod longlived;
pub mod multus_init;
pub mod natgw;
pub mod networks;
pub mod ovn;
pub mod pinger;
mod podcheck;
pub mod probe;
pub mod settle;
mod timeline;
pub mod traffic;
mod watch;
pub mod workload;

pub use diagnose::{LOG_LINES, diagnose};
pub use evaluate::{HealedAddress, Window, evaluate, guard_healed_address};
pub use gate::{
    DECIDE_EVERY, FLOOR_PAST_BUDGETS, PROBE_INTERVAL, SETTLE, STEADY_FOR, observe_and_judge,
    prepare_and_wait_steady, rejudge, unsteady, wait_steady,
};
pub use lanes::{Lane, Segment, lanes, traffic_lanes};
pub use settle::{DEFAULT_SETTLE, Floor, ObserveMode, ObservedWindow};
pub use timeline::{Change, NodeState, ObjKind, ObjRef, PodState, Timeline, Transition};
pub use watch::{LiveTimeline, Observer, WatchOptions, WatchStats};
