#!/usr/bin/env bash
# Installs what building and testing nlb needs on a fresh Debian machine that has only
# the Rust toolchain. Idempotent; run as root. Every system package the build or the
# tests need is listed in PACKAGES.
set -euo pipefail

# clang builds the BPF programs; libbpf-dev has bpf_helpers.h; linux-libc-dev has
# linux/bpf.h; the lab and the namespace tests drive iproute2 (`ip`, `bridge`, `tc`),
# hold connections with python3, signal with procps' `kill` and drop privileges with
# util-linux's `setpriv`; prometheus has `promtool`, which checks nlbd's metrics page.
PACKAGES=(clang libbpf-dev linux-libc-dev iproute2 python3 procps util-linux faketime prometheus)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
