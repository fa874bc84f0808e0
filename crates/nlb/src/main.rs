//! `nlb`: the command-line interface of nlb, dispatcher-less network load balancing.

mod bench;
mod check;
mod cli;
mod client;
mod docs;
mod doctor;
mod ip2mac;
mod keygen;
mod lab;
mod output;
mod pcap;
mod plan;
mod simulate;
mod switch_config;
mod verbs;

use clap::{CommandFactory, Parser};
use cli::{BenchCommand, Cli, Command, ConfigCommand, LabCommand, VerbOptions};
use nlb_core::control::Request;
use output::CliError;
use std::process::ExitCode;

fn run_lab(c: LabCommand) -> anyhow::Result<ExitCode> {
    match c {
        LabCommand::Up {
            hosts,
            mode,
            heartbeat_ms,
            loss_tolerance,
            native_xdp,
            name,
        } => lab::up(
            &name.name,
            hosts,
            &mode,
            heartbeat_ms.zip(loss_tolerance),
            native_xdp,
            false,
        )
        .map(|_| ExitCode::SUCCESS),
        LabCommand::Status { name, json } => lab::status(&name.name, json),
        LabCommand::Exec {
            host,
            command,
            name,
        } => lab::exec(&name.name, &host, &command),
        LabCommand::Kill { host, how, name } => lab::kill(&name.name, &host, how),
        LabCommand::Start {
            host,
            no_wait,
            wall_clock_offset,
            name,
        } => lab::start(&name.name, &host, !no_wait, wall_clock_offset.as_deref()),
        LabCommand::Handoff { host, name } => lab::handoff(&name.name, &host),
        LabCommand::Migrate {
            hosts,
            blackout_ms,
            rarp,
            out_of_phase_ms,
            held,
            interval_ms,
            name,
            json,
        } => lab::migrate::run(
            &name.name,
            (!hosts.is_empty()).then_some(hosts),
            lab::migrate::Move {
                hosts: Vec::new(),
                blackout: std::time::Duration::from_millis(blackout_ms),
                rarp,
                out_of_phase: std::time::Duration::from_millis(out_of_phase_ms),
                held,
                interval: std::time::Duration::from_millis(interval_ms.max(1)),
            },
            json,
        ),
        LabCommand::Failover {
            host,
            how,
            interval_ms,
            ipv6,
            name,
            json,
        } => lab::failover::run(
            &name.name,
            &host,
            how,
            std::time::Duration::from_millis(interval_ms.max(1)),
            ipv6,
            json,
        ),
        LabCommand::Traffic {
            connections,
            ipv6,
            name,
            json,
        } => lab::traffic(&name.name, connections, ipv6, json),
        LabCommand::Bench {
            rounds,
            span_ms,
            name,
            json,
        } => lab::bench::run(&name.name, rounds, span_ms, json),
        LabCommand::Flood {
            kind,
            seconds,
            senders,
            from,
            name,
            json,
        } => lab::flood::run(&name.name, kind, seconds, senders, &from, json),
        LabCommand::Down { name } => lab::down(&name.name, false).map(|_| ExitCode::SUCCESS),
        LabCommand::Demo { hosts, mode, name } => lab::demo::run(hosts, &mode, &name),
        LabCommand::Serve { id, port } => lab::service::serve(id, port).map(|_| ExitCode::SUCCESS),
        LabCommand::NicTeam {
            host,
            second_mac,
            off,
            name,
        } => lab::nic_team(&name.name, &host, second_mac, off),
        LabCommand::Capture {
            on,
            seconds,
            out,
            name,
        } => lab::capture(&name.name, &on, seconds, &out),
        LabCommand::Switch { vip, bridge } => {
            lab::switch::run(&vip, &bridge).map(|_| ExitCode::SUCCESS)
        }
    }
}

/// Lets a closed stdout end the command as it ends any Unix tool (`nlb lab flood |
/// head`): Rust starts programs with SIGPIPE ignored, and `println!` to a closed pipe
/// then panics. Sockets that may see their peer go first write with MSG_NOSIGNAL
/// (see `client::request`), so only stdout and stderr can raise it.
fn default_sigpipe() {
    // libc: rustix has no safe call that sets a signal's disposition.
    // SAFETY: restores the default disposition of SIGPIPE, before any thread starts;
    // no handler of ours is involved.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

fn main() -> ExitCode {
    default_sigpipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Bad usage with --json: a JSON error object too (help and version print as usual).
        Err(e) if e.use_stderr() && std::env::args_os().any(|a| a == "--json") => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            let message = first.strip_prefix("error: ").unwrap_or(first);
            CliError::Failed(anyhow::Error::msg(message.to_string())).print(true);
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    let json = cli.command.json();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            e.print(json);
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> Result<ExitCode, CliError> {
    let verb = |v: verbs::Verb, o: VerbOptions| verbs::run(v, o.interface.as_deref(), o.json);
    let change = |r: Request, o: VerbOptions| verb(verbs::Verb::Change(r), o);
    let result = match command {
        Command::Query { options } => verb(verbs::Verb::Query, options),
        Command::Display { options } => verb(verbs::Verb::Display, options),
        Command::Params { options } => verb(verbs::Verb::Params, options),
        Command::Start { options } => change(Request::Start, options),
        Command::Stop { options } => change(Request::Stop, options),
        Command::Drainstop {
            wait,
            timeout,
            options,
        } => verb(
            verbs::Verb::DrainStop {
                wait,
                timeout_s: timeout,
            },
            options,
        ),
        Command::Suspend { options } => change(Request::Suspend, options),
        Command::Resume { options } => change(Request::Resume, options),
        Command::Enable { target, options } => change(Request::Enable { target }, options),
        Command::Disable { target, options } => change(Request::Disable { target }, options),
        Command::Drain { target, options } => change(Request::Drain { target }, options),
        Command::Queryport { target, options } => verb(verbs::Verb::QueryPort(target), options),
        Command::Reload { options } => change(Request::Reload, options),
        Command::Handoff { options } => change(Request::HandOff, options),
        Command::Ip2mac { vip, host, json } => ip2mac::run(&vip, host, json),
        Command::Doctor(args) => doctor::run(args),
        Command::SwitchConfig {
            files,
            vendor,
            vlan,
            ports,
            router,
            bridge,
            json,
        } => {
            return switch_config::run(
                &files,
                switch_config::Options {
                    vendor,
                    vlan,
                    ports,
                    router,
                    bridge,
                    json,
                },
            )
        }
        Command::Keygen { file, force } => keygen::run(&file, force),
        Command::Config(ConfigCommand::Check { files, json }) => return check::run(&files, json),
        Command::Plan {
            files,
            without,
            json,
        } => return plan::run(&files, &without, json),
        Command::Simulate {
            hosts,
            seed,
            scenario,
            json,
        } => simulate::run_cmd(hosts, seed, &scenario, json),
        Command::Lab(c) => run_lab(c),
        Command::Completions { shell } => docs::completions(Cli::command(), shell),
        Command::Man { dir } => docs::man(Cli::command(), &dir),
        Command::Bench(BenchCommand::Xdp {
            repeat,
            rounds,
            json,
        }) => bench::run(repeat, rounds, json),
    };
    Ok(result?)
}
