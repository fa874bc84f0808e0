// SPDX-License-Identifier: (MIT OR Apache-2.0)
// The baseline for benchmarks: an XDP program that passes every frame.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
