//! Compiles the BPF programs in `bpf/` with clang (Debian's clang 14 or later:
//! `scripts/setup.sh` installs it) into `OUT_DIR`.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let src =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir")).join("../../bpf");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    for name in ["nlb_xdp", "pass", "lab_switch", "nlb_mask"] {
        let c = src.join(format!("{name}.c"));
        println!("cargo:rerun-if-changed={}", c.display());
        let status = Command::new(&clang)
            .args(["-O2", "-mcpu=v3", "-g", "-Wall", "-Werror", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-c"])
            .arg(&c)
            .arg("-o")
            .arg(out.join(format!("{name}.o")))
            .status()
            .unwrap_or_else(|e| panic!("cannot run {clang} to build {}: {e}; run scripts/setup.sh (it installs clang and libbpf-dev)", c.display()));
        assert!(
            status.success(),
            "{clang} failed to compile {}",
            c.display()
        );
    }
    println!("cargo:rerun-if-env-changed=CLANG");
}
