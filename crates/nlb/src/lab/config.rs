//! The configuration file each host of a lab runs with.

use super::{Lab, VIP, VIP6};

/// Host `n`'s configuration file: the lab's cluster (an IPv4 and an IPv6 VIP, its
/// mode and timers, one rule for the service on TCP 80 of both) and the key file at
/// `key`.
pub(super) fn host_config(lab: &Lab, n: u8, key: &std::path::Path) -> String {
    format!(
        r#"# Host {n} of lab `{name}` (written by `nlb lab up`).
[cluster]
name = "{name}"
vip = "{VIP}"
extra_vips = ["{VIP6}"]
mode = "{mode}"
key_file = "{key}"
{timers}
[[cluster.rule]]
name = "web"
ports = 80
protocol = "tcp"
affinity = "none"

[host]
id = {n}
interface = "eth0"
state_dir = "{dir}"
metrics = "127.0.0.1:9810"
"#,
        name = lab.name,
        mode = lab.mode,
        key = key.display(),
        dir = lab.dir().display(),
        timers = lab
            .timers
            .map_or(String::new(), |(period, tolerance)| format!(
                "heartbeat_period_ms = {period}\nloss_tolerance = {tolerance}\n"
            )),
    )
}
