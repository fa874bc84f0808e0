#!/usr/bin/env bash
# The demo: installs what the build needs, builds, and walks through what nlb does
# today. Run as root on Debian with the Rust toolchain. (`nlb lab demo`, a whole cluster
# in network namespaces, comes with the operator interface.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p nlb -p nlbd
nlb=target/release/nlb

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "The MACs Windows NLB derives from a VIP, in every notation" "nlb ip2mac 172.31.3.232 --host 3"
$nlb ip2mac 172.31.3.232 --host 3

step "Three host files checked as one cluster" "nlb config check examples/cluster/*.toml"
$nlb config check examples/cluster/*.toml

step "Who owns what, and what moves when host 2 leaves" "nlb plan examples/cluster/*.toml --without 2"
$nlb plan examples/cluster/*.toml --without 2

step "Eight hosts, one crashes: a deterministic simulation checking I1-I4" "nlb simulate --hosts 8 --seed 7 --scenario crash"
$nlb simulate --hosts 8 --seed 7 --scenario crash

step "An attacker forges and replays heartbeats while a host crashes and returns" "nlb simulate --hosts 5 --seed 3 --scenario attack"
$nlb simulate --hosts 5 --seed 3 --scenario attack

if [[ $EUID -eq 0 ]]; then
    step "The XDP data path under BPF_PROG_RUN, beside an XDP_PASS-only program" "nlb bench xdp --repeat 200000 --rounds 3"
    $nlb bench xdp --repeat 200000 --rounds 3
fi
