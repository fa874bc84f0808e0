//! `nlb config check`: validate files one by one, then as a cluster. Each file is
//! read with its key file by `Config::load_with_key`, as nlbd reads it: what nlbd would
//! refuse, this refuses.

use crate::output::{print_json, CliError, ErrorJson, Problem};
use nlb_core::config::{check_cluster, check_keys, Config};
use nlb_core::key::KeyFingerprint;
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
    /// The key's fingerprint (reveals nothing of the key): equal on hosts that share it.
    #[serde(skip_serializing_if = "Option::is_none")]
    key_fingerprint: Option<String>,
    errors: Vec<Problem>,
}

#[derive(Serialize)]
struct Report {
    ok: bool,
    files: Vec<FileReport>,
    cluster_problems: Vec<String>,
    /// The digest every host advertises, when all files agree on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_digest: Option<String>,
    /// When anything is wrong: how much, as every failing command reports it.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    error: Option<ErrorJson>,
}

pub fn run(files: &[PathBuf], json: bool) -> Result<ExitCode, CliError> {
    let mut reports = Vec::new();
    let mut loaded: Vec<(Config, KeyFingerprint)> = Vec::new();
    for f in files {
        match Config::load_with_key(f) {
            Ok((c, key)) => {
                reports.push(FileReport {
                    file: f.display().to_string(),
                    ok: true,
                    host: Some(c.host.id.get()),
                    digest: Some(c.cluster.digest().to_string()),
                    key_fingerprint: Some(key.fingerprint().to_string()),
                    errors: vec![],
                });
                loaded.push((c, key.fingerprint()));
            }
            Err(errs) => reports.push(FileReport {
                file: f.display().to_string(),
                ok: false,
                host: None,
                digest: None,
                key_fingerprint: None,
                errors: errs.0.iter().map(Problem::from).collect(),
            }),
        }
    }
    let configs: Vec<Config> = loaded.iter().map(|(c, _)| c.clone()).collect();
    let keys: Vec<(&Config, KeyFingerprint)> = loaded.iter().map(|(c, k)| (c, *k)).collect();
    let mut problems = check_cluster(&configs);
    problems.extend(check_keys(&keys));
    let problems: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    let all_files_ok = reports.iter().all(|r| r.ok);
    let ok = all_files_ok && problems.is_empty();
    let digest = configs
        .first()
        .filter(|_| ok)
        .map(|c| c.cluster.digest().to_string());
    let count: usize = reports.iter().map(|f| f.errors.len()).sum::<usize>() + problems.len();
    let report = Report {
        ok,
        files: reports,
        cluster_problems: problems,
        cluster_digest: digest,
        error: (!ok).then(|| ErrorJson::new(format!("{count} problem(s) found"), Vec::new())),
    };
    if json {
        print_json(&report);
    } else {
        for (r, (c, key)) in report.files.iter().filter(|r| r.ok).zip(&loaded) {
            println!(
                "ok: {}: host {} on {}, cluster `{}` ({}, {}), {} rule(s), key fingerprint {key}",
                r.file,
                c.host.id,
                c.host.interface,
                c.cluster.name,
                c.cluster.vip,
                c.cluster.mode,
                c.cluster.rules.len()
            );
        }
        for r in report.files.iter().filter(|r| !r.ok) {
            for e in &r.errors {
                eprintln!("error: {}", e.text);
            }
        }
        for p in &report.cluster_problems {
            eprintln!("error: {p}");
        }
        if let Some(d) = &report.cluster_digest {
            if files.len() > 1 {
                println!(
                    "cluster ok: {} hosts agree and share one key; every host advertises digest {d}",
                    files.len()
                );
            } else {
                println!("cluster digest: {d}");
            }
        }
        if !report.ok {
            eprintln!("{count} problem(s) found");
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
