//! Compiles the BPF programs in `bpf/` with clang (Debian's clang 14 or later:
//! `scripts/setup.sh` installs it) into `OUT_DIR`.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let src =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir")).join("../../bpf");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    for name in ["nlb_xdp", "pass", "lab_switch", "lab_team", "nlb_pkt_type"] {
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
    for header in ["nlb_abi.h", "nlb_consts.h", "nlb_ipv6.h"] {
        println!("cargo:rerun-if-changed={}", src.join(header).display());
    }
    abi(&src, &out);
}

/// Compiles and runs `bpf/abi_dump.c` with the host's C compiler: what it prints (the
/// sizes, offsets, byte values and counter names of `bpf/nlb_abi.h`) becomes `abi.rs`.
fn abi(src: &std::path::Path, out: &std::path::Path) {
    let dump = src.join("abi_dump.c");
    println!("cargo:rerun-if-changed={}", dump.display());
    println!("cargo:rerun-if-env-changed=CC");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let exe = out.join("abi_dump");
    let status = Command::new(&cc)
        .args(["-Wall", "-Werror", "-I/usr/include/x86_64-linux-gnu"])
        .arg(&dump)
        .arg("-o")
        .arg(&exe)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cc} to build {}: {e}", dump.display()));
    assert!(
        status.success(),
        "{cc} failed to compile {}",
        dump.display()
    );
    let output = Command::new(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    assert!(output.status.success(), "{} failed", exe.display());
    std::fs::write(out.join("abi.rs"), output.stdout).expect("write abi.rs");
}
