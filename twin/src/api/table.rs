//! `meta.k8s.io/v1` Table responses with the columns and cell rules of the
//! API server's printers (`pkg/printers/internalversion/printers.go`,
//! `printPod`, `printNode`, `printEvent`, `printDaemonSet`,
//! `printDeployment`, `printStatefulSet`). The server always renders the
//! wide cells; kubectl hides priority-1 columns unless `-o wide`. Ages come
//! from the virtual clock.

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::clock::parse_k8s_time;
use crate::resource::ResourceType;

/// `k8s.io/apimachinery/pkg/util/duration.HumanDuration`.
pub fn human_duration(d: Duration, negative: bool) -> String {
    let seconds = d.as_secs();
    if negative {
        return if seconds > 1 {
            "<invalid>".into()
        } else {
            "0s".into()
        };
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// `translateTimestampSince`: `<unknown>` for a missing timestamp.
fn since(ts: Option<&str>, now: Timestamp) -> String {
    match ts.and_then(parse_k8s_time) {
        None => "<unknown>".into(),
        Some(t) => {
            let d = now.duration_since(t);
            human_duration(d.unsigned_abs(), d.is_negative())
        }
    }
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn i(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn arr<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn condition_true(pod: &Value, ty: &str) -> bool {
    arr(pod, "/status/conditions")
        .iter()
        .any(|c| c["type"] == ty && c["status"] == "True")
}

fn restartable_init(pod: &Value, name: &str) -> bool {
    arr(pod, "/spec/initContainers")
        .iter()
        .any(|c| c["name"] == name && c["restartPolicy"] == "Always")
}

fn later(a: Option<Timestamp>, b: Option<&str>) -> Option<Timestamp> {
    match (a, b.and_then(parse_k8s_time)) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The READY, STATUS and RESTARTS cells of a pod, computed as `printPod`
/// does.
pub fn pod_status_reason(pod: &Value, now: Timestamp) -> (String, String, String) {
    let mut restarts = 0i64;
    let mut restartable_restarts = 0i64;
    let mut total = arr(pod, "/spec/containers").len();
    let mut ready = 0usize;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_restartable: Option<Timestamp> = None;
    let phase = s(pod, "/status/phase");
    let mut reason = phase.to_string();
    if !s(pod, "/status/reason").is_empty() {
        reason = s(pod, "/status/reason").to_string();
    }
    for c in arr(pod, "/status/conditions") {
        if c["type"] == "PodScheduled" && c["reason"] == "SchedulingGated" {
            reason = "SchedulingGated".into();
        }
    }
    let init_specs = arr(pod, "/spec/initContainers");
    total += init_specs
        .iter()
        .filter(|c| c["restartPolicy"] == "Always")
        .count();
    let mut initializing = false;
    for (idx, c) in arr(pod, "/status/initContainerStatuses").iter().enumerate() {
        let name = c["name"].as_str().unwrap_or("");
        let restartable = restartable_init(pod, name);
        restarts += i(c, "/restartCount");
        let finished = c
            .pointer("/lastState/terminated/finishedAt")
            .and_then(Value::as_str);
        last_restart = later(last_restart, finished);
        if restartable {
            restartable_restarts += i(c, "/restartCount");
            last_restartable = later(last_restartable, finished);
        }
        let terminated = c.pointer("/state/terminated");
        let waiting_reason = s(c, "/state/waiting/reason");
        if terminated.is_some() && i(c, "/state/terminated/exitCode") == 0 {
            continue;
        }
        if restartable && c["started"] == true {
            if c["ready"] == true {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            let r = t["reason"].as_str().unwrap_or("");
            reason = if !r.is_empty() {
                format!("Init:{r}")
            } else if i(t, "/signal") != 0 {
                format!("Init:Signal:{}", i(t, "/signal"))
            } else {
                format!("Init:ExitCode:{}", i(t, "/exitCode"))
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{idx}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }
    if !initializing || condition_true(pod, "Initialized") {
        restarts = restartable_restarts;
        last_restart = last_restartable;
        let mut has_running = false;
        for c in arr(pod, "/status/containerStatuses").iter().rev() {
            restarts += i(c, "/restartCount");
            last_restart = later(
                last_restart,
                c.pointer("/lastState/terminated/finishedAt")
                    .and_then(Value::as_str),
            );
            let waiting = s(c, "/state/waiting/reason");
            let terminated = c.pointer("/state/terminated");
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if let Some(t) = terminated {
                let r = t["reason"].as_str().unwrap_or("");
                reason = if !r.is_empty() {
                    r.to_string()
                } else if i(t, "/signal") != 0 {
                    format!("Signal:{}", i(t, "/signal"))
                } else {
                    format!("ExitCode:{}", i(t, "/exitCode"))
                };
            } else if c["ready"] == true && c.pointer("/state/running").is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(pod, "Ready") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }
    let deleting = pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null());
    if deleting && s(pod, "/status/reason") == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting && !matches!(phase, "Succeeded" | "Failed") {
        reason = "Terminating".into();
    }
    let mut restarts_cell = restarts.to_string();
    if restarts != 0
        && let Some(t) = last_restart
    {
        let d = now.duration_since(t);
        restarts_cell = format!(
            "{restarts} ({} ago)",
            human_duration(d.unsigned_abs(), d.is_negative())
        );
    }
    (format!("{ready}/{total}"), reason, restarts_cell)
}

fn col(name: &str, ty: &str, priority: u8, description: &str) -> Value {
    let mut c = json!({"name": name, "type": ty, "format": "", "description": description, "priority": priority});
    if name == "Name" {
        c["format"] = json!("name");
    }
    c
}

const NAME_DOC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DOC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.";

/// The column definitions for a resource.
pub fn columns(rt: &ResourceType) -> Vec<Value> {
    let name = col("Name", "string", 0, NAME_DOC);
    let age = col("Age", "string", 0, AGE_DOC);
    match rt.kind {
        "Pod" => vec![
            name,
            col(
                "Ready",
                "string",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            col(
                "Status",
                "string",
                0,
                "The aggregate status of the containers in this pod.",
            ),
            col(
                "Restarts",
                "string",
                0,
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            age,
            col("IP", "string", 1, "podIP address allocated to the pod."),
            col(
                "Node",
                "string",
                1,
                "NodeName indicates in which node this pod is scheduled.",
            ),
            col(
                "Nominated Node",
                "string",
                1,
                "nominatedNodeName is set only when this pod preempts other pods on the node.",
            ),
            col(
                "Readiness Gates",
                "string",
                1,
                "If specified, all readiness gates will be evaluated for pod readiness.",
            ),
        ],
        "Node" => vec![
            name,
            col("Status", "string", 0, "The status of the node"),
            col("Roles", "string", 0, "The roles of the node"),
            age,
            col(
                "Version",
                "string",
                0,
                "Kubelet Version reported by the node.",
            ),
            col(
                "Internal-IP",
                "string",
                1,
                "List of addresses reachable to the node.",
            ),
            col(
                "External-IP",
                "string",
                1,
                "List of addresses reachable to the node.",
            ),
            col(
                "OS-Image",
                "string",
                1,
                "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
            ),
            col(
                "Kernel-Version",
                "string",
                1,
                "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
            ),
            col(
                "Container-Runtime",
                "string",
                1,
                "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
            ),
        ],
        "Event" => vec![
            col(
                "Last Seen",
                "string",
                0,
                "The time at which the most recent occurrence of this event was recorded.",
            ),
            col(
                "Type",
                "string",
                0,
                "Type of this event (Normal, Warning), new types could be added in the future",
            ),
            col(
                "Reason",
                "string",
                0,
                "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
            ),
            col(
                "Object",
                "string",
                0,
                "The object that this event is about.",
            ),
            col(
                "Subobject",
                "string",
                1,
                "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.",
            ),
            col(
                "Source",
                "string",
                1,
                "The component reporting this event. Should be a short machine understandable string.",
            ),
            col(
                "Message",
                "string",
                0,
                "A human-readable description of the status of this operation.",
            ),
            col(
                "First Seen",
                "string",
                1,
                "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
            ),
            col(
                "Count",
                "string",
                1,
                "The number of times this event has occurred.",
            ),
            {
                let mut n = col("Name", "string", 1, NAME_DOC);
                n["format"] = json!("name");
                n
            },
        ],
        "DaemonSet" => vec![
            name,
            col(
                "Desired",
                "integer",
                0,
                "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).",
            ),
            col(
                "Current",
                "integer",
                0,
                "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
            ),
            col(
                "Ready",
                "integer",
                0,
                "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.",
            ),
            col(
                "Up-to-date",
                "integer",
                0,
                "The total number of nodes that are running updated daemon pod",
            ),
            col(
                "Available",
                "integer",
                0,
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
            ),
            col(
                "Node Selector",
                "string",
                0,
                "NodeSelector is a selector which must be true for the pod to fit on a node.",
            ),
            age,
            col(
                "Containers",
                "string",
                1,
                "Names of each container in the template.",
            ),
            col(
                "Images",
                "string",
                1,
                "Images referenced by each container in the template.",
            ),
            col(
                "Selector",
                "string",
                1,
                "A label query over pods that are managed by the daemon set.",
            ),
        ],
        "Deployment" => vec![
            name,
            col("Ready", "string", 0, "Number of the pod with ready state"),
            col(
                "Up-to-date",
                "string",
                0,
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            col(
                "Available",
                "string",
                0,
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            age,
            col(
                "Containers",
                "string",
                1,
                "Names of each container in the template.",
            ),
            col(
                "Images",
                "string",
                1,
                "Images referenced by each container in the template.",
            ),
            col("Selector", "string", 1, "Label selector for pods."),
        ],
        "StatefulSet" => vec![
            name,
            col("Ready", "string", 0, "Number of the pod with ready state"),
            age,
            col(
                "Containers",
                "string",
                1,
                "Names of each container in the template.",
            ),
            col(
                "Images",
                "string",
                1,
                "Images referenced by each container in the template.",
            ),
        ],
        "Namespace" => vec![
            name,
            col("Status", "string", 0, "The status of the namespace"),
            age,
        ],
        "ConfigMap" => vec![
            name,
            col("Data", "string", 0, "Data contains the configuration data."),
            age,
        ],
        "Lease" => vec![
            name,
            col(
                "Holder",
                "string",
                0,
                "holderIdentity contains the identity of the holder of a current lease.",
            ),
            age,
        ],
        _ => vec![name, age],
    }
}

/// The CONTAINERS, IMAGES and SELECTOR cells of a workload.
fn template_cells(obj: &Value) -> [Value; 3] {
    let (names, images) = container_cells(arr(obj, "/spec/template/spec/containers"));
    let selector = format_selector(obj.pointer("/spec/selector").unwrap_or(&Value::Null));
    [json!(names), json!(images), json!(selector)]
}

/// The READY cell of a Deployment or StatefulSet (`ready/desired`).
fn ready_replicas(obj: &Value) -> Value {
    let desired = obj
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    json!(format!("{}/{desired}", i(obj, "/status/readyReplicas")))
}

fn container_cells(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers
        .iter()
        .map(|c| c["name"].as_str().unwrap_or(""))
        .collect();
    let images: Vec<&str> = containers
        .iter()
        .map(|c| c["image"].as_str().unwrap_or(""))
        .collect();
    (names.join(","), images.join(","))
}

fn format_labels(map: Option<&Value>) -> String {
    let Some(m) = map.and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return "<none>".into();
    };
    m.iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect::<Vec<_>>()
        .join(",")
}

fn format_selector(sel: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        parts.extend(
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))),
        );
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e["key"].as_str().unwrap_or("");
        let values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match e["operator"].as_str().unwrap_or("") {
            "In" => parts.push(format!("{key} in ({})", values.join(","))),
            "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
            "Exists" => parts.push(key.to_string()),
            "DoesNotExist" => parts.push(format!("!{key}")),
            _ => {}
        }
    }
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

fn node_roles(node: &Value) -> String {
    let mut roles = BTreeSet::new();
    if let Some(labels) = node.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role.to_string());
                }
            } else if k == "kubernetes.io/role"
                && let Some(v) = v.as_str().filter(|v| !v.is_empty())
            {
                roles.insert(v.to_string());
            }
        }
    }
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    }
}

fn or_none(v: &str) -> String {
    if v.is_empty() {
        "<none>".into()
    } else {
        v.to_string()
    }
}

/// The cells of one row.
pub fn cells(rt: &ResourceType, obj: &Value, now: Timestamp) -> Vec<Value> {
    let name = s(obj, "/metadata/name");
    let age = since(
        obj.pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str),
        now,
    );
    match rt.kind {
        "Pod" => {
            let (ready, reason, restarts) = pod_status_reason(obj, now);
            let ip = arr(obj, "/status/podIPs")
                .first()
                .map(|p| s(p, "/ip").to_string())
                .unwrap_or_default();
            let gates = arr(obj, "/spec/readinessGates");
            let gates_cell = if gates.is_empty() {
                "<none>".to_string()
            } else {
                let ok = gates
                    .iter()
                    .filter(|g| condition_true(obj, g["conditionType"].as_str().unwrap_or("")))
                    .count();
                format!("{ok}/{}", gates.len())
            };
            vec![
                json!(name),
                json!(ready),
                json!(reason),
                json!(restarts),
                json!(age),
                json!(or_none(&ip)),
                json!(or_none(s(obj, "/spec/nodeName"))),
                json!(or_none(s(obj, "/status/nominatedNodeName"))),
                json!(gates_cell),
            ]
        }
        "Node" => {
            let mut status: Vec<String> = Vec::new();
            if let Some(c) = arr(obj, "/status/conditions")
                .iter()
                .find(|c| c["type"] == "Ready")
            {
                status.push(if c["status"] == "True" {
                    "Ready".into()
                } else {
                    "NotReady".into()
                });
            }
            if status.is_empty() {
                status.push("Unknown".into());
            }
            if obj.pointer("/spec/unschedulable") == Some(&Value::Bool(true)) {
                status.push("SchedulingDisabled".into());
            }
            let addr = |ty: &str| {
                arr(obj, "/status/addresses")
                    .iter()
                    .find(|a| a["type"] == ty)
                    .map(|a| s(a, "/address").to_string())
                    .unwrap_or_default()
            };
            let kernel = s(obj, "/status/nodeInfo/kernelVersion");
            let runtime = s(obj, "/status/nodeInfo/containerRuntimeVersion");
            vec![
                json!(name),
                json!(status.join(",")),
                json!(node_roles(obj)),
                json!(age),
                json!(s(obj, "/status/nodeInfo/kubeletVersion")),
                json!(or_none(&addr("InternalIP"))),
                json!(or_none(&addr("ExternalIP"))),
                json!(s(obj, "/status/nodeInfo/osImage")),
                json!(if kernel.is_empty() {
                    "<unknown>"
                } else {
                    kernel
                }),
                json!(if runtime.is_empty() {
                    "<unknown>"
                } else {
                    runtime
                }),
            ]
        }
        "Event" => {
            let mut first = since(obj.get("firstTimestamp").and_then(Value::as_str), now);
            if obj.get("firstTimestamp").is_none_or(Value::is_null) {
                first = since(obj.get("eventTime").and_then(Value::as_str), now);
            }
            let mut last = since(obj.get("lastTimestamp").and_then(Value::as_str), now);
            if obj.get("lastTimestamp").is_none_or(Value::is_null) {
                last = first.clone();
            }
            let mut count = i(obj, "/count");
            if obj.get("series").is_some_and(|v| !v.is_null()) {
                last = since(
                    obj.pointer("/series/lastObservedTime")
                        .and_then(Value::as_str),
                    now,
                );
                count = i(obj, "/series/count");
            } else if count == 0 {
                count = 1;
            }
            let kind = s(obj, "/involvedObject/kind").to_lowercase();
            let involved = s(obj, "/involvedObject/name");
            let target = if involved.is_empty() {
                kind
            } else {
                format!("{kind}/{involved}")
            };
            let component = s(obj, "/source/component");
            let host = s(obj, "/source/host");
            let source = match (component.is_empty(), host.is_empty()) {
                (false, false) => format!("{component}, {host}"),
                (false, true) => component.to_string(),
                _ => {
                    let rc = s(obj, "/reportingComponent");
                    let ri = s(obj, "/reportingInstance");
                    if ri.is_empty() {
                        rc.to_string()
                    } else {
                        format!("{rc}, {ri}")
                    }
                }
            };
            vec![
                json!(last),
                json!(s(obj, "/type")),
                json!(s(obj, "/reason")),
                json!(target),
                json!(s(obj, "/involvedObject/fieldPath")),
                json!(source),
                json!(s(obj, "/message").trim()),
                json!(first),
                json!(count),
                json!(name),
            ]
        }
        "DaemonSet" => {
            let [names, images, selector] = template_cells(obj);
            vec![
                json!(name),
                json!(i(obj, "/status/desiredNumberScheduled")),
                json!(i(obj, "/status/currentNumberScheduled")),
                json!(i(obj, "/status/numberReady")),
                json!(i(obj, "/status/updatedNumberScheduled")),
                json!(i(obj, "/status/numberAvailable")),
                json!(format_labels(
                    obj.pointer("/spec/template/spec/nodeSelector")
                )),
                json!(age),
                names,
                images,
                selector,
            ]
        }
        "Deployment" => {
            let [names, images, selector] = template_cells(obj);
            vec![
                json!(name),
                ready_replicas(obj),
                json!(i(obj, "/status/updatedReplicas")),
                json!(i(obj, "/status/availableReplicas")),
                json!(age),
                names,
                images,
                selector,
            ]
        }
        "StatefulSet" => {
            let [names, images, _] = template_cells(obj);
            vec![json!(name), ready_replicas(obj), json!(age), names, images]
        }
        "Namespace" => vec![json!(name), json!(s(obj, "/status/phase")), json!(age)],
        "ConfigMap" => {
            let n = obj
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len())
                + obj
                    .get("binaryData")
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len());
            vec![json!(name), json!(n), json!(age)]
        }
        "Lease" => vec![
            json!(name),
            json!(s(obj, "/spec/holderIdentity")),
            json!(age),
        ],
        _ => vec![json!(name), json!(age)],
    }
}

/// A Table of `objects`. `include_object` is the request's `includeObject`
/// (`None` = `Metadata`, the server default; `Object`; `None`).
pub fn table(
    rt: &ResourceType,
    objects: &[&Value],
    now: Timestamp,
    include_object: Option<&str>,
    list_meta: Value,
) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let object = match include_object {
                Some("None") => Value::Null,
                Some("Object") => (*obj).clone(),
                _ => json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
                }),
            };
            let mut row = json!({"cells": cells(rt, obj, now), "object": object});
            if matches!(obj.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed")) && rt.kind == "Pod" {
                let phase = s(obj, "/status/phase");
                let message = if phase == "Succeeded" { "The pod has completed successfully." } else { "The pod failed." };
                row["conditions"] = json!([{"type": "Completed", "status": "True", "reason": phase, "message": message}]);
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": columns(rt),
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-01-01T01:00:00Z".parse().unwrap()
    }

    #[test]
    fn human_durations_match_apimachinery() {
        for (secs, want) in [
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (600, "10m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60 * 5, "3h5m"),
            (9 * 3600, "9h"),
            (50 * 3600, "2d2h"),
            (10 * 86400, "10d"),
            (800 * 86400, "2y70d"),
            (9 * 365 * 86400, "9y"),
        ] {
            assert_eq!(
                human_duration(Duration::from_secs(secs), false),
                want,
                "{secs}"
            );
        }
        assert_eq!(human_duration(Duration::from_secs(5), true), "<invalid>");
    }

    #[test]
    fn pod_status_follows_print_pod() {
        let multus = json!({
            "metadata": {"name": "kube-multus-ds-abcde"},
            "spec": {"initContainers": [{"name": "install-multus-binary"}], "containers": [{"name": "kube-multus"}]},
            "status": {
                "phase": "Pending",
                "conditions": [{"type": "Initialized", "status": "False"}],
                "initContainerStatuses": [{
                    "name": "install-multus-binary", "restartCount": 4, "ready": false,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2026-01-01T00:58:00Z"}}
                }],
                "containerStatuses": [{"name": "kube-multus", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]
            }
        });
        assert_eq!(
            pod_status_reason(&multus, now()),
            (
                "0/1".to_string(),
                "Init:CrashLoopBackOff".to_string(),
                "4 (2m ago)".to_string()
            )
        );
        let init_running = json!({
            "spec": {"initContainers": [{"name": "a"}, {"name": "b"}], "containers": [{"name": "c"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "a", "state": {"running": {}}, "restartCount": 0},
                {"name": "b", "state": {"waiting": {"reason": "PodInitializing"}}, "restartCount": 0}
            ]}
        });
        assert_eq!(pod_status_reason(&init_running, now()).1, "Init:0/2");
        let creating = json!({"spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Pending",
            "containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "ContainerCreating"}}}]}});
        assert_eq!(pod_status_reason(&creating, now()).1, "ContainerCreating");
        let running = json!({"metadata": {"deletionTimestamp": "2026-01-01T01:00:30Z"},
            "spec": {"containers": [{"name": "c"}, {"name": "d"}]}, "status": {"phase": "Running",
            "containerStatuses": [{"name": "c", "ready": true, "state": {"running": {}}}, {"name": "d", "ready": true, "state": {"running": {}}}]}});
        assert_eq!(
            pod_status_reason(&running, now()),
            ("2/2".into(), "Terminating".into(), "0".into())
        );
        let failed_init = json!({"spec": {"initContainers": [{"name": "a"}], "containers": [{"name": "c"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]}});
        assert_eq!(pod_status_reason(&failed_init, now()).1, "Init:Error");
        let done = json!({"spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Succeeded",
            "containerStatuses": [{"name": "c", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}});
        assert_eq!(pod_status_reason(&done, now()).1, "Completed");
        let not_ready = json!({"spec": {"containers": [{"name": "c"}, {"name": "d"}]}, "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{"name": "c", "ready": true, "state": {"running": {}}}, {"name": "d", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}});
        assert_eq!(pod_status_reason(&not_ready, now()).1, "NotReady");
        let crash = json!({"spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Running",
            "containerStatuses": [{"name": "c", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"finishedAt": "2026-01-01T00:30:00Z"}}}]}});
        assert_eq!(
            pod_status_reason(&crash, now()),
            (
                "0/1".into(),
                "CrashLoopBackOff".into(),
                "3 (30m ago)".into()
            )
        );
    }

    #[test]
    fn node_and_event_rows() {
        let nodes = crate::resource::by_plural("nodes").unwrap();
        let node = json!({"metadata": {"name": "c-control-plane", "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"node-role.kubernetes.io/control-plane": "", "kube-ovn/role": "master"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}],
            "nodeInfo": {"kubeletVersion": "v1.33.1"}}});
        let c = cells(nodes, &node, now());
        assert_eq!(c[1], "Ready,SchedulingDisabled");
        assert_eq!(c[2], "control-plane");
        assert_eq!(c[3], "60m");
        assert_eq!(c[5], "172.18.0.2");
        assert_eq!(c[6], "<none>");
        let events = crate::resource::by_plural("events").unwrap();
        let ev = json!({"metadata": {"name": "x.1"}, "type": "Warning", "reason": "BackOff",
            "involvedObject": {"kind": "Pod", "name": "p"}, "message": " back-off ", "source": {"component": "kubelet", "host": "w"},
            "firstTimestamp": "2026-01-01T00:50:00Z", "lastTimestamp": "2026-01-01T00:59:00Z", "count": 4});
        let c = cells(events, &ev, now());
        assert_eq!(c[0], "60s");
        assert_eq!(c[3], "pod/p");
        assert_eq!(c[5], "kubelet, w");
        assert_eq!(c[6], "back-off");
        assert_eq!(c[7], "10m");
        assert_eq!(c[8], 4);
        assert_eq!(columns(events).len(), c.len());
        assert_eq!(columns(nodes).len(), cells(nodes, &node, now()).len());
    }
}
