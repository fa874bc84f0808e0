//! `nlb ip2mac`: the MACs and group a VIP derives, in every notation.

use crate::output::{print_json, ErrorJson};
use anyhow::anyhow;
use nlb_core::addressing::{check_unicast_host_id, ClusterAddressing, OperationMode};
use nlb_core::mac::MacAddr;
use serde::Serialize;
use std::net::IpAddr;
use std::process::ExitCode;

#[derive(Serialize)]
struct MacForms {
    windows: String,
    colon: String,
    cisco: String,
}

impl From<MacAddr> for MacForms {
    fn from(m: MacAddr) -> Self {
        MacForms {
            windows: m.windows(),
            colon: m.colon(),
            cisco: m.cisco(),
        }
    }
}

#[derive(Serialize)]
struct ModeReport {
    mode: &'static str,
    cluster_mac: MacForms,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
}

#[derive(Serialize)]
struct Report {
    vip: String,
    modes: Vec<ModeReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    masked_source_mac: Option<MaskedReport>,
    /// Set when the host id asked for cannot be used in unicast mode.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    error: Option<ErrorJson>,
}

#[derive(Serialize)]
struct MaskedReport {
    host: u8,
    mac: MacForms,
    /// False when the masked source MAC is the cluster MAC (host id 191): the id
    /// cannot be used in unicast mode.
    usable: bool,
}

pub fn run(vip: &str, host: Option<u8>, json: bool) -> anyhow::Result<ExitCode> {
    // The parser's own words ("invalid IP address syntax") add nothing to these.
    let ip: IpAddr = vip.trim().parse().map_err(|_| {
        anyhow!("`{vip}` is not an IP address; expected a VIP such as 172.31.3.232 or 2001:db8::10")
    })?;
    let a =
        ClusterAddressing::new(ip).map_err(|e| anyhow!("`{vip}`: {e}; expected a unicast VIP"))?;
    let modes: Vec<ModeReport> = OperationMode::ALL
        .iter()
        .map(|&m| ModeReport {
            mode: m.as_str(),
            cluster_mac: a.cluster_mac(m).into(),
            group: (m == OperationMode::IgmpMulticast).then(|| a.igmp_group().to_string()),
        })
        .collect();
    let refused = host.and_then(|h| check_unicast_host_id(h).err());
    let report = Report {
        vip: ip.to_string(),
        modes,
        masked_source_mac: host.map(|h| MaskedReport {
            host: h,
            mac: a.masked_source_mac(h).into(),
            usable: refused.is_none(),
        }),
        error: refused.map(|e| ErrorJson::new(e.to_string(), Vec::new())),
    };
    // A host id that cannot be used fails the command (status 1), after the table.
    let status = if refused.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    if json {
        print_json(&report);
        return Ok(status);
    }
    println!("The cluster MAC addresses for VIP {} are:", report.vip);
    println!();
    println!(
        "  {:<16} {:<19} {:<19} {:<16} group",
        "mode", "windows", "colon", "cisco"
    );
    for m in &report.modes {
        println!(
            "  {:<16} {:<19} {:<19} {:<16} {}",
            m.mode,
            m.cluster_mac.windows,
            m.cluster_mac.colon,
            m.cluster_mac.cisco,
            m.group.as_deref().unwrap_or("-")
        );
    }
    match (&report.masked_source_mac, refused) {
        (Some(m), None) => {
            println!();
            println!(
                "  unicast mode: host {} sends with masked source MAC {} ({}, {})",
                m.host, m.mac.windows, m.mac.colon, m.mac.cisco
            );
        }
        (Some(m), Some(e)) => {
            println!();
            println!(
                "  unicast mode: host {} cannot be used: its masked source MAC would be {}, the cluster MAC",
                m.host, m.mac.windows
            );
            eprintln!("error: {e}");
        }
        _ => {}
    }
    Ok(status)
}
