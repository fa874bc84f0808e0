#!/usr/bin/env bash
# The demo: installs what the build needs, builds, and runs `nlb lab demo` — a whole
# cluster in network namespaces on this machine: up, query, traffic, a host killed while
# a client keeps connecting (the failover gap measured), the host back, traffic again,
# down. Run as root on Debian with the Rust toolchain. Leaves nothing behind.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p nlb -p nlbd
exec target/release/nlb lab demo "$@"
