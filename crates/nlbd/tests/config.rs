//! nlbd refuses a configuration `nlb config check` refuses, before it changes anything,
//! with every problem of the file at once (both run `Config::load_with_key`). Needs no
//! network namespace: nlbd stops at the file.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

const NLBD: &str = env!("CARGO_BIN_EXE_nlbd");

/// Runs nlbd on `config`, which it must refuse (exit 1); returns what it said.
fn refused(config: &std::path::Path) -> String {
    let out = Command::new(NLBD)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    err
}

#[test]
fn nlbd_refuses_a_bad_file_and_key_listing_every_problem() {
    let dir = std::env::temp_dir().join(format!("nlbd-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("web.key");
    std::fs::write(&key, "00".repeat(32)).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let config = dir.join("web.toml");
    std::fs::write(
        &config,
        "[cluster]\nname = \"web\"\nvip = \"198.51.100.10\"\nmode = \"unicast\"\n\
         key_file = \"web.key\"\n\n[host]\nid = 191\ninterface = \"eth9\"\n",
    )
    .unwrap();
    let err = refused(&config);
    assert!(err.contains("2 problem(s)"), "{err}");
    assert!(
        err.contains("web.toml:5:12: cluster.key_file") && err.contains("chmod 600"),
        "{err}"
    );
    assert!(
        err.contains("web.toml:8:6: host.id") && err.contains("unicast mode"),
        "{err}"
    );
    assert!(!err.contains("error: error"), "{err}");

    // The key alone: still refused, by the same check `nlb config check` runs.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("id = 191", "id = 1")).unwrap();
    let err = refused(&config);
    assert!(
        err.contains("1 problem(s)") && err.contains("mode 0644"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
