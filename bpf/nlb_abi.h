/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/* The one definition of what the XDP program (nlb_xdp.c) and the daemon's side
 * (crates/nlb-dataplane) share: map value layouts, the byte values they hold, and the
 * counters. nlb-dataplane's build script compiles abi_dump.c against this header and
 * generates Rust constants from it (sizes, field offsets, enum values, counter names);
 * the Rust mirrors are checked against them when the crate compiles, so the two sides
 * cannot drift apart. Both targets (BPF and x86-64) are LP64 and little-endian with
 * natural alignment, so a layout computed by the host compiler is the program's. */
#ifndef NLB_ABI_H
#define NLB_ABI_H

#include <linux/types.h>

/* Changes whenever the layouts below or the program's meaning of them change: a
 * successor adopts a running program only when it speaks the same version. */
#define NLB_ABI_VERSION 4
#define MAX_VIPS 16
#define SLOTS_PER_CHUNK 64
#define CONN_WAYS 8
#define CONN_BUCKET_BITS 17
/* Bit 0 of a way's seen_ns: the client's ACK has been seen (a completed handshake). */
#define CONN_CONFIRMED 1ULL
/* An IPv6 connection's conn_bucket.v6_slots word: this bit, the rule, the slot. */
#define CONN_V6 0x80000000U
#define CONN_V6_RULE_SHIFT 20
#define CONN_V6_SLOT_MASK 0xfffffU
/* A connection whose handshake this host has not seen completed (no ACK from the
 * client yet) is forgotten after this long idle, whatever idle_timeout_ns says: about
 * how long the kernel retransmits a SYN-ACK. Spoofed SYNs never complete. */
#define UNCONFIRMED_TIMEOUT_NS 60000000000ULL

/* A slot's state on this host (the daemon maps the core's states to these). */
enum slot_state {
	SLOT_NOT_OWNED = 0,
	SLOT_PENDING = 1,
	SLOT_NEW_FLOWS_ONLY = 2,
	SLOT_OWNED = 3,
	SLOT_RELEASED_DRAINING = 4,
};

enum filtering { FILTER_MULTIPLE = 0, FILTER_SINGLE = 1, FILTER_DISABLED = 2 };
enum affinity { AFFINITY_NONE = 0, AFFINITY_SINGLE = 1, AFFINITY_NETWORK = 2 };

/* Counters, by verdict (per CPU): X(ENUM_NAME, exported_name). The order is the
 * COUNTERS map's index order. */
#define NLB_COUNTERS(X)                                                                  \
	X(PASS_NOT_IP, pass_not_ip)                                                      \
	X(PASS_HEARTBEAT, pass_heartbeat)                                                \
	X(PASS_NOT_VIP, pass_not_vip)                                                    \
	X(ARP_REPLIED, arp_replied)                                                      \
	X(ARP_PASSED, arp_passed)                                                        \
	X(NDP_REPLIED, ndp_replied)                                                      \
	X(NDP_PASSED, ndp_passed)                                                        \
	X(ADMIT_ESTABLISHED, admit_established)                                          \
	X(ADMIT_NEW, admit_new)                                                          \
	X(ADMIT_OWNED, admit_owned)                                                      \
	X(DROP_NOT_OWNED, drop_not_owned)                                                \
	X(DROP_FENCED, drop_fenced)                                                      \
	X(DROP_DISABLED, drop_disabled)                                                  \
	X(DROP_MALFORMED, drop_malformed)                                                \
	X(ADMIT_FRAGMENT, admit_fragment)                                                \
	X(DROP_FRAGMENT, drop_fragment)                                                  \
	/* A new connection took the way of an unconfirmed one (a SYN flood's victim). */ \
	X(CONN_EVICTED_UNCONFIRMED, conn_evicted_unconfirmed)                            \
	/* A new connection went untracked: its bucket holds only confirmed ones. */     \
	X(CONN_TABLE_FULL, conn_table_full)                                              \
	/* Heartbeat-type frames from a source no authenticated heartbeat came from. */ \
	X(PASS_HEARTBEAT_UNKNOWN, pass_heartbeat_unknown)                                \
	X(DROP_HEARTBEAT_UNKNOWN, drop_heartbeat_unknown)

enum counter {
#define NLB_COUNTER_ENUM(name, exported) CNT_##name,
	NLB_COUNTERS(NLB_COUNTER_ENUM)
#undef NLB_COUNTER_ENUM
	CNT_MAX,
};

/* What is fixed when the program loads (a successor that adopts the program checks it
 * matches its configuration): the program's read-only FIXED, whose values the verifier
 * knows, so reading one costs a load from a constant address and no map lookup. */
struct fixed {
	/* The flow hash's key (the core's hash_seed), and its key for the low half of an
	 * IPv6 address (the core's seed6(hash_seed)). */
	__u64 seed;
	__u64 seed6;
	/* Keys the connection table's bucket hash: random per load, so nobody outside can
	 * aim flows at one bucket. */
	__u64 conn_seed;
	__u32 table_size;
	__u32 chunks_per_rule;
	__u32 nr_rules;
	/* The VIPs, IPv4 first: the i-th IPv4 VIP is VIP number i (of PORTS), the j-th
	 * IPv6 VIP number vip4_count + j. */
	__u32 vip4_count;
	__u32 vips4[MAX_VIPS]; /* network order */
	/* NLB_ABI_VERSION, for a successor's check. */
	__u32 abi_version;
	/* 1 in unicast mode: the cluster MAC is a second unicast MAC the NIC receives. */
	__u32 unicast_mode;
	__u32 vip6_count;
	__u32 pad;
	/* Each IPv6 VIP as two words read from the packet (network order bytes). */
	__u64 vips6[MAX_VIPS][2];
};

/* CONFIG[0]: what changes while the program runs, mapped by the daemon. */
struct config {
	/* No new flow is admitted once bpf_ktime_get_coarse_ns() reaches this: the daemon
	 * renews it every period, so a dead or hung daemon fails closed. The coarse clock
	 * lags the fine one by at most a tick, well inside the lease's one-period margin. */
	__u64 lease_deadline_ns;
	/* Confirmed connection table entries idle longer than this are forgotten. */
	__u64 idle_timeout_ns;
	__u8 cluster_mac[6];
	/* Admitted frames sent to the cluster MAC are re-addressed to this MAC, so the
	 * stack treats them as sent to this host (CLUSTERIP set pkt_type instead). */
	__u8 own_mac[6];
	/* Source MAC of frames this program transmits (ARP replies). */
	__u8 tx_mac[6];
	/* What neighbour discovery answers for the IPv6 VIPs: the cluster MAC, except in
	 * IGMP-multicast mode, where IPv6 VIPs have their own (the MLD group's) MAC. */
	__u8 cluster_mac6[6];
	/* FIXED, copied here for a successor that adopts the program (read-only data
	 * cannot be read back through the program's maps by name). */
	struct fixed fixed;
};

/* The rule covering one (VIP, protocol, server port), as the packet needs it. */
struct rule_ref {
	__u8 rule; /* nr_rules: no rule covers it, the default host's traffic */
	__u8 filtering;
	__u8 affinity;
	__u8 pad;
};

/* Both protocols' rules of one (VIP, server port): PORTS[v * 65536 + port]. */
struct port_rules {
	struct rule_ref tcp;
	struct rule_ref udp;
};

/* SLOTS[rule * chunks_per_rule + slot / 64].state[slot % 64]: enum slot_state. */
struct slot_chunk {
	__u8 state[SLOTS_PER_CHUNK];
};

/* One bucket of the connection table CONNS (see nlb_xdp.c for how it is used). */
struct conn_bucket {
	__u32 seq;
	__u32 pad;
	/* IPv4: VIP << 32 | client (network order); IPv6: a keyed 64-bit fingerprint of
	 * client and VIP, odd. 0: the way is free (a VIP is never 0.0.0.0). */
	__u64 addrs[CONN_WAYS];
	__u32 ports[CONN_WAYS];
	__u64 seen_ns[CONN_WAYS];
	/* IPv6 entries: CONN_V6 | rule << CONN_V6_RULE_SHIFT | slot, which the daemon cannot
	 * compute from a fingerprint; 0 for IPv4 entries. */
	__u32 v6_slots[CONN_WAYS];
};

#endif
