//! `nlb switch-config`: the switch and router side of a cluster, for one vendor, from
//! the hosts' configuration files (the generator is `nlb_core::switch_config`).

use crate::cli::VendorArg;
use crate::output::{print_json, CliError};
use nlb_core::switch_config::{generate, Cluster, Line, Request, Vendor};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Serialize)]
struct Command<'a> {
    command: &'a str,
    why: &'a str,
}

#[derive(Serialize)]
struct Report<'a> {
    vendor: Vendor,
    mode: &'static str,
    cluster: &'a str,
    vips: Vec<String>,
    cluster_mac: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    /// Every command, in order, with why it is there.
    commands: Vec<Command<'a>>,
    /// The whole output in order: comments and commands.
    lines: &'a [Line],
}

/// What the command line gave besides the files.
pub struct Options {
    pub vendor: VendorArg,
    pub vlan: Option<u16>,
    pub ports: Vec<String>,
    pub router: bool,
    pub bridge: Option<String>,
    pub json: bool,
}

pub fn run(files: &[PathBuf], o: Options) -> Result<ExitCode, CliError> {
    // Only the [cluster] part matters to the switch, but files that do not form one
    // cluster are refused as `nlb plan` refuses them.
    let configs = crate::plan::one_cluster(files)?;
    let cluster = Cluster::from_config(&configs[0].cluster);
    let req = Request {
        vendor: o.vendor.into(),
        cluster: cluster.clone(),
        vlan: o.vlan,
        ports: o.ports,
        router: o.router,
        bridge: o.bridge,
    };
    let cfg = generate(&req);
    if o.json {
        let mode = cluster.mode.as_str();
        print_json(&Report {
            vendor: cfg.vendor,
            mode,
            cluster: &cluster.name,
            vips: cluster.vips.iter().map(|v| v.to_string()).collect(),
            cluster_mac: cluster.cluster_mac().windows(),
            group: (cluster.mode == nlb_core::addressing::OperationMode::IgmpMulticast)
                .then(|| cluster.group().to_string()),
            commands: cfg
                .commands()
                .map(|(command, why)| Command { command, why })
                .collect(),
            lines: &cfg.lines,
        });
    } else {
        // A closed pipe (`| head`) ends the command quietly, as for any Unix tool.
        let _ = std::io::Write::write_all(&mut std::io::stdout(), cfg.render().as_bytes());
    }
    Ok(ExitCode::SUCCESS)
}
