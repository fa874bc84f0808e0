//! `nlb config check`: validate files one by one, then as a cluster.

use crate::output::print_json;
use nlb_core::config::{check_cluster, Config};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Serialize)]
struct FileReport {
    file: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<String>,
    errors: Vec<ErrorReport>,
}

#[derive(Serialize)]
struct ErrorReport {
    line: usize,
    column: usize,
    field: String,
    message: String,
    text: String,
}

#[derive(Serialize)]
struct Report {
    ok: bool,
    files: Vec<FileReport>,
    cluster_problems: Vec<String>,
    /// The digest every host advertises, when all files agree on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_digest: Option<String>,
}

pub fn run(files: &[PathBuf], json: bool) -> Result<ExitCode, String> {
    let mut reports = Vec::new();
    let mut configs = Vec::new();
    for f in files {
        match Config::load(f) {
            Ok(c) => {
                reports.push(FileReport {
                    file: f.display().to_string(),
                    ok: true,
                    host: Some(c.host.id.get()),
                    digest: Some(c.cluster.digest().to_string()),
                    errors: vec![],
                });
                configs.push(c);
            }
            Err(errs) => reports.push(FileReport {
                file: f.display().to_string(),
                ok: false,
                host: None,
                digest: None,
                errors: errs
                    .0
                    .iter()
                    .map(|e| ErrorReport {
                        line: e.line,
                        column: e.column,
                        field: e.field.clone(),
                        message: e.message.clone(),
                        text: e.to_string(),
                    })
                    .collect(),
            }),
        }
    }
    let problems: Vec<String> = check_cluster(&configs)
        .iter()
        .map(|p| p.to_string())
        .collect();
    let all_files_ok = reports.iter().all(|r| r.ok);
    let ok = all_files_ok && problems.is_empty();
    let digest = configs
        .first()
        .filter(|_| ok)
        .map(|c| c.cluster.digest().to_string());
    let report = Report {
        ok,
        files: reports,
        cluster_problems: problems,
        cluster_digest: digest,
    };
    if json {
        print_json(&report);
    } else {
        for (r, c) in report.files.iter().zip(files) {
            if r.ok {
                let cfg = configs.iter().find(|x| &x.path == c).expect("loaded");
                println!(
                    "ok: {}: host {} on {}, cluster `{}` ({}, {}), {} rule(s)",
                    r.file,
                    cfg.host.id,
                    cfg.host.interface,
                    cfg.cluster.name,
                    cfg.cluster.vip,
                    cfg.cluster.mode,
                    cfg.cluster.rules.len()
                );
            } else {
                for e in &r.errors {
                    eprintln!("error: {}", e.text);
                }
            }
        }
        for p in &report.cluster_problems {
            eprintln!("error: {p}");
        }
        if let Some(d) = &report.cluster_digest {
            if files.len() > 1 {
                println!(
                    "cluster ok: {} hosts agree; every host advertises digest {d}",
                    files.len()
                );
            } else {
                println!("cluster digest: {d}");
            }
        }
        if !report.ok {
            let n: usize = report.files.iter().map(|f| f.errors.len()).sum::<usize>()
                + report.cluster_problems.len();
            eprintln!("{n} problem(s) found");
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
