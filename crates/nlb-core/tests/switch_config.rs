//! Golden tests of `nlb switch-config`: every vendor in every mode (and with an IPv6
//! VIP in igmp-multicast mode, i.e. MLD) against `testdata/switch-config/*.txt`.
//! `NLB_BLESS=1 cargo test -p nlb-core --test switch_config` rewrites the goldens;
//! review the diff before committing it.

use nlb_core::addressing::OperationMode;
use nlb_core::switch_config::{generate, Cluster, Line, Request, SwitchConfig, Vendor};
use std::net::IpAddr;
use std::path::PathBuf;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/switch-config")
}

/// Port names as each vendor spells them.
fn ports(v: Vendor) -> Vec<String> {
    let p: &[&str] = match v {
        Vendor::CiscoIos => &["Gi1/0/1", "Gi1/0/2"],
        Vendor::CiscoNxos => &["Ethernet1/1", "Ethernet1/2"],
        Vendor::AristaEos => &["Ethernet1", "Ethernet2"],
        Vendor::Junos => &["ge-0/0/1.0", "ge-0/0/2.0"],
        Vendor::DellPowerconnect => &["g1", "g2"],
        Vendor::DellOs10 => &["1/1/1", "1/1/2"],
        Vendor::LinuxBridge | Vendor::OpenVswitch => &["ph1", "ph2"],
    };
    p.iter().map(|s| s.to_string()).collect()
}

fn request(v: Vendor, mode: OperationMode, vips: &[&str]) -> Request {
    Request {
        vendor: v,
        cluster: Cluster {
            name: "web".into(),
            mode,
            vips: vips.iter().map(|s| s.parse::<IpAddr>().unwrap()).collect(),
        },
        vlan: Some(10),
        ports: ports(v),
        router: true,
        bridge: Some("br0".into()),
    }
}

const V4: &[&str] = &["172.31.3.232", "172.31.3.240"];
const V6: &[&str] = &["2001:db8::ac1f:3e8"];

/// Every case: its golden file's name and the request.
fn cases() -> Vec<(String, Request)> {
    let mut all = Vec::new();
    for v in Vendor::ALL {
        for m in OperationMode::ALL {
            all.push((format!("{v}-{m}"), request(v, m, V4)));
        }
        all.push((
            format!("{v}-igmp-multicast-ipv6"),
            request(v, OperationMode::IgmpMulticast, V6),
        ));
    }
    // Placeholders when nothing is known of the switch.
    for (v, m) in [
        (Vendor::CiscoIos, OperationMode::Multicast),
        (Vendor::LinuxBridge, OperationMode::IgmpMulticast),
    ] {
        let mut r = request(v, m, V4);
        r.vlan = None;
        r.ports.clear();
        r.bridge = None;
        all.push((format!("{v}-{m}-placeholders"), r));
    }
    all
}

#[test]
fn goldens() {
    let bless = std::env::var_os("NLB_BLESS").is_some();
    let dir = golden_dir();
    if bless {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let mut failures = Vec::new();
    for (name, req) in cases() {
        let text = generate(&req).render();
        let path = dir.join(format!("{name}.txt"));
        if bless {
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(want) if want == text => {}
            Ok(_) => failures.push(format!("{name}: differs from {}", path.display())),
            Err(e) => failures.push(format!("{name}: {}: {e}", path.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(rerun with NLB_BLESS=1 to rewrite, then review the diff)",
        failures.join("\n")
    );
}

/// Every line of the text is a comment or a command, and every command comes right
/// after the comment saying why.
#[test]
fn every_command_has_a_why() {
    for (name, req) in cases() {
        let cfg = generate(&req);
        for (command, why) in cfg.commands() {
            assert!(!why.trim().is_empty(), "{name}: `{command}` has no why");
            assert!(!command.trim().is_empty(), "{name}: empty command");
            assert!(!command.contains('\n'), "{name}: `{command}` spans lines");
        }
        let prefix = req.vendor.comment_prefix();
        let text = cfg.render();
        let lines: Vec<&str> = text.lines().collect();
        let commands: Vec<&str> = cfg.commands().map(|(c, _)| c).collect();
        let mut next = 0;
        for (i, line) in lines.iter().enumerate() {
            if line.starts_with(prefix) {
                continue;
            }
            assert_eq!(
                Some(line),
                commands.get(next),
                "{name}: line {} is neither a comment nor the next command",
                i + 1
            );
            assert!(
                i > 0 && lines[i - 1].starts_with(prefix),
                "{name}: `{line}` is not preceded by its why"
            );
            next += 1;
        }
        assert_eq!(
            next,
            commands.len(),
            "{name}: commands missing from the text"
        );
    }
}

fn commands(cfg: &SwitchConfig) -> String {
    cfg.commands()
        .map(|(c, _)| c.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn unicast_mode_has_no_static_arp_and_no_static_mac() {
    for v in Vendor::ALL {
        let cfg = generate(&request(v, OperationMode::Unicast, V4));
        let cmds = commands(&cfg);
        assert!(
            !cmds.contains("02bf") && !cmds.contains("02:bf"),
            "{v}: {cmds}"
        );
        assert!(
            !cmds.contains("arp") && !cmds.contains("neigh"),
            "{v}: {cmds}"
        );
        assert!(
            cfg.render().contains("Do NOT add a static MAC entry"),
            "{v}"
        );
    }
}

#[test]
fn multicast_modes_give_the_router_static_arp_for_every_vip() {
    for m in [OperationMode::Multicast, OperationMode::IgmpMulticast] {
        let cfg = generate(&request(Vendor::CiscoIos, m, V4));
        let cmds = commands(&cfg);
        let mac = if m == OperationMode::Multicast {
            "03bf.ac1f.03e8"
        } else {
            "0100.5e7f.03e8"
        };
        for vip in V4 {
            assert!(cmds.contains(&format!("arp {vip} {mac} ARPA")), "{cmds}");
        }
        assert!(cfg.render().contains("RFC 1812"));
    }
    // Without --router, no router section.
    let mut r = request(Vendor::CiscoIos, OperationMode::Multicast, V4);
    r.router = false;
    assert!(!commands(&generate(&r)).contains("arp "));
}

#[test]
fn ipv6_uses_the_mld_group_and_mac() {
    let cfg = generate(&request(Vendor::DellOs10, OperationMode::IgmpMulticast, V6));
    let text = cfg.render();
    assert!(text.contains("ff05::efff:3e8"), "{text}");
    assert!(text.contains("33:33:ef:ff:03:e8"), "{text}");
    assert!(commands(&cfg).contains("ipv6 mld snooping querier"));
    let linux = generate(&request(
        Vendor::LinuxBridge,
        OperationMode::IgmpMulticast,
        V6,
    ));
    assert!(commands(&linux).contains(
        "ip neigh replace 2001:db8::ac1f:3e8 lladdr 33:33:ef:ff:03:e8 dev <ROUTER_IF> nud permanent"
    ));
}

#[test]
fn placeholders_are_announced() {
    for (name, req) in cases()
        .into_iter()
        .filter(|(n, _)| n.ends_with("placeholders"))
    {
        let text = generate(&req).render();
        assert!(text.contains("Replace the placeholders"), "{name}");
        for p in ["<VLAN>", "<PORT>"] {
            if text
                .lines()
                .any(|l| !l.starts_with(req.vendor.comment_prefix()) && l.contains(p))
            {
                assert!(text.contains(&format!("{p} (")), "{name}: {p} unexplained");
            }
        }
    }
}

#[test]
fn shell_output_is_a_script() {
    for v in [Vendor::LinuxBridge, Vendor::OpenVswitch] {
        let text = generate(&request(v, OperationMode::Multicast, V4)).render();
        assert!(text.starts_with("#!/bin/sh\n"), "{v}");
        assert!(text.lines().any(|l| l == "set -e"), "{v}");
    }
}

#[test]
fn json_form_lists_command_and_why() {
    let cfg = generate(&request(Vendor::CiscoIos, OperationMode::Multicast, V4));
    let v = serde_json::to_value(&cfg).unwrap();
    assert_eq!(v["vendor"], "cisco-ios");
    assert_eq!(v["mode"], "multicast");
    let lines = v["lines"].as_array().unwrap();
    assert!(lines
        .iter()
        .any(|l| l["command"] == "arp 172.31.3.232 03bf.ac1f.03e8 ARPA" && l["why"].is_string()));
    assert!(cfg.lines.iter().any(|l| matches!(l, Line::Comment { .. })));
}

#[test]
fn vendor_names_round_trip() {
    for v in Vendor::ALL {
        assert_eq!(v.as_str().parse::<Vendor>(), Ok(v));
    }
    let e = "cisco".parse::<Vendor>().unwrap_err();
    assert!(e.contains("cisco-ios") && e.contains("open-vswitch"), "{e}");
}
