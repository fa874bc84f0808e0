//! The lab switch's agent (`nlb lab switch`, run inside the switch namespace): MAC-based
//! IGMP snooping. It attaches `bpf/lab_switch.c` to the egress of every port of every
//! bridge (the lab's switches: br0, and br1 once `nlb lab migrate` adds it) and keeps
//! the set of member ports equal to the ports the bridges' MDBs list for each of the
//! cluster's groups, so frames to an IGMP-mode cluster MAC leave only towards hosts that
//! joined its group (239.255.Y.Z for IPv4 VIPs, ff05::efff:YYZZ by MLD for IPv6 ones),
//! as on a switch that snoops by MAC. A port that moves to another bridge
//! keeps its filter and is a member where that bridge's MDB says so: the bridge it
//! left forgot it, the one it joined learns it from the host's next report.

use nlb_core::addressing::{FamilyAddressing, OperationMode};
use nlb_dataplane::lab_switch::LabSwitch;
use serde_json::Value;
use std::net::IpAddr;
use std::time::Duration;

/// The ports enslaved to `bridge`.
fn ports(bridge: &str) -> Vec<String> {
    super::netns::names_in(format!("/sys/class/net/{bridge}/brif"))
}

/// The bridges of this network namespace whose names start with `prefix`, asked over
/// netlink (`ip`): sysfs shows the namespace it was mounted in, not the calling
/// thread's, and `nlb lab status` asks from a thread moved into the switch's.
fn bridges(prefix: &str) -> Vec<String> {
    let Ok(text) = super::netns::output("ip", &["-j", "link", "show", "type", "bridge"]) else {
        return Vec::new();
    };
    let mut found: Vec<String> = serde_json::from_str::<Vec<Value>>(&text)
        .unwrap_or_default()
        .iter()
        .filter_map(|l| l.get("ifname").and_then(Value::as_str))
        .filter(|name| name.starts_with(prefix))
        .map(str::to_string)
        .collect();
    found.sort();
    found
}

fn ifindex(port: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/class/net/{port}/ifindex"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The ports the MDB of `bridge` lists for `group` (from `bridge -j mdb show`).
pub fn mdb_members(bridge: &str, group: IpAddr) -> Vec<String> {
    let Ok(text) = super::netns::output("bridge", &["-j", "mdb", "show", "dev", bridge]) else {
        return Vec::new();
    };
    let Ok(json) = serde_json::from_str::<Value>(&text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    collect(&json, &group.to_string(), &mut out);
    out.sort();
    out.dedup();
    out
}

/// The ports the MDBs of every bridge named `prefix*` list for `group`.
pub fn group_ports(prefix: &str, group: IpAddr) -> Vec<String> {
    let mut members: Vec<String> = bridges(prefix)
        .iter()
        .flat_map(|b| mdb_members(b, group))
        .collect();
    members.sort();
    members.dedup();
    members
}

fn collect(v: &Value, group: &str, out: &mut Vec<String>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| collect(x, group, out)),
        Value::Object(o) => {
            if o.get("grp").and_then(Value::as_str) == Some(group) {
                if let Some(p) = o.get("port").and_then(Value::as_str) {
                    out.push(p.to_string());
                }
            }
            o.values().for_each(|x| collect(x, group, out));
        }
        _ => {}
    }
}

/// Runs the agent for the cluster of `vips` on the bridges named `bridge*`, forever.
pub fn run(vips: &[IpAddr], bridge: &str) -> anyhow::Result<()> {
    let addressing = FamilyAddressing::new(OperationMode::IgmpMulticast, vips);
    let groups: Vec<_> = addressing
        .groups
        .iter()
        .copied()
        .zip(addressing.macs())
        .collect();
    let macs: Vec<_> = groups.iter().map(|&(_, mac)| mac).collect();
    let mut switch = LabSwitch::load(&macs)?;
    let mut attached = Vec::new();
    let mut members_before = vec![None; groups.len()];
    loop {
        let bridges = bridges(bridge);
        for b in &bridges {
            for p in ports(b) {
                if !attached.contains(&p) {
                    switch.attach(&p)?;
                    eprintln!("switch: snooping by MAC on port {p} of {b}");
                    attached.push(p);
                }
            }
        }
        for (g, &(group, mac)) in groups.iter().enumerate() {
            let members = group_ports(bridge, group);
            if members_before[g].as_ref() != Some(&members) {
                eprintln!(
                    "switch: group {group} ({mac}) members: {}",
                    if members.is_empty() {
                        "none".to_string()
                    } else {
                        members.join(", ")
                    }
                );
                let indexes: Vec<u32> = members.iter().filter_map(|p| ifindex(p)).collect();
                switch.set_members(g, &indexes)?;
                members_before[g] = Some(members);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
