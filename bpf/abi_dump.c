/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/* Run at build time by nlb-dataplane's build script: prints, as Rust, what nlb_abi.h
 * says (sizes, field offsets, byte values, counter names), for the Rust mirrors to be
 * checked against when they compile. */
#include <stddef.h>
#include <stdio.h>
#include "nlb_abi.h"

#define SIZE(s) printf("pub const %s_SIZE: usize = %zu;\n", #s, sizeof(struct s))
#define FIELD(s, f) printf("pub const %s__%s: usize = %zu;\n", #s, #f, offsetof(struct s, f))
#define VALUE(name) printf("pub const %s: u8 = %d;\n", #name, (int)(name))
#define USIZE(name) printf("pub const %s: usize = %llu;\n", #name, (unsigned long long)(name))
#define U32(name) printf("pub const %s: u32 = %u;\n", #name, (unsigned)(name))
#define U64(name) printf("pub const %s: u64 = %llu;\n", #name, (unsigned long long)(name))
#define COUNTER_NAME(name, exported) printf("    \"%s\",\n", #exported);

int main(void)
{
	printf("// Generated from bpf/nlb_abi.h by bpf/abi_dump.c; do not edit.\n");
	U32(NLB_ABI_VERSION);
	USIZE(MAX_VIPS);
	USIZE(SLOTS_PER_CHUNK);
	USIZE(CONN_WAYS);
	USIZE(CONN_BUCKET_BITS);
	U64(CONN_CONFIRMED);
	U32(CONN_V6);
	U32(CONN_V6_RULE_SHIFT);
	U32(CONN_V6_SLOT_MASK);
	U64(UNCONFIRMED_TIMEOUT_NS);
	VALUE(SLOT_NOT_OWNED);
	VALUE(SLOT_PENDING);
	VALUE(SLOT_NEW_FLOWS_ONLY);
	VALUE(SLOT_OWNED);
	VALUE(SLOT_RELEASED_DRAINING);
	VALUE(FILTER_MULTIPLE);
	VALUE(FILTER_SINGLE);
	VALUE(FILTER_DISABLED);
	VALUE(AFFINITY_NONE);
	VALUE(AFFINITY_SINGLE);
	VALUE(AFFINITY_NETWORK);
	SIZE(fixed);
	FIELD(fixed, seed);
	FIELD(fixed, seed6);
	FIELD(fixed, conn_seed);
	FIELD(fixed, table_size);
	FIELD(fixed, chunks_per_rule);
	FIELD(fixed, nr_rules);
	FIELD(fixed, vip4_count);
	FIELD(fixed, vips4);
	FIELD(fixed, abi_version);
	FIELD(fixed, unicast_mode);
	FIELD(fixed, vip6_count);
	FIELD(fixed, vips6);
	SIZE(config);
	FIELD(config, lease_deadline_ns);
	FIELD(config, idle_timeout_ns);
	FIELD(config, cluster_mac);
	FIELD(config, own_mac);
	FIELD(config, tx_mac);
	FIELD(config, cluster_mac6);
	FIELD(config, fixed);
	SIZE(rule_ref);
	FIELD(rule_ref, rule);
	FIELD(rule_ref, filtering);
	FIELD(rule_ref, affinity);
	SIZE(port_rules);
	FIELD(port_rules, tcp);
	FIELD(port_rules, udp);
	SIZE(slot_chunk);
	SIZE(conn_bucket);
	FIELD(conn_bucket, seq);
	FIELD(conn_bucket, addrs);
	FIELD(conn_bucket, ports);
	FIELD(conn_bucket, seen_ns);
	FIELD(conn_bucket, v6_slots);
	printf("/// The program's counters, in the COUNTERS map's index order.\n");
	printf("pub const COUNTER_NAMES: [&str; %d] = [\n", CNT_MAX);
	NLB_COUNTERS(COUNTER_NAME)
	printf("];\n");
	return 0;
}
