// SPDX-License-Identifier: (MIT OR Apache-2.0)
// nlb's XDP data path: admit the flows this host owns, drop the rest, answer ARP
// for the VIPs, let heartbeats through to the daemon.
//
// Classification is the Rust core's (crates/nlb-core/src/hash.rs and classify.rs),
// proved equal by running the shared vectors (testdata/flow-hash-vectors.json)
// through this program with BPF_PROG_RUN. All maps are declared here; the daemon
// fills them. IPv4 only.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_RULES 32
#define MAX_VIPS 16
#define SLOTS_PER_CHUNK 64
#define ETH_P_NLB_HEARTBEAT 0x88b5
#define ARPOP_REQUEST 1
#define ARPOP_REPLY 2
#define REFRESH_NS 1000000000ULL

/* Slot states: the numbering of nlb_core::convergence::SlotState. */
enum slot_state {
	SLOT_NOT_OWNED = 0,
	SLOT_PENDING = 1,
	SLOT_NEW_FLOWS_ONLY = 2,
	SLOT_OWNED = 3,
	SLOT_RELEASED_DRAINING = 4,
};

enum filtering { FILTER_MULTIPLE = 0, FILTER_SINGLE = 1, FILTER_DISABLED = 2 };
enum affinity { AFFINITY_NONE = 0, AFFINITY_SINGLE = 1, AFFINITY_NETWORK = 2 };

/* Counters, by verdict (per CPU). */
enum counter {
	CNT_PASS_NOT_IPV4 = 0,
	CNT_PASS_HEARTBEAT,
	CNT_PASS_NOT_VIP,
	CNT_ARP_REPLIED,
	CNT_ARP_PASSED,
	CNT_ADMIT_ESTABLISHED,
	CNT_ADMIT_NEW,
	CNT_ADMIT_OWNED,
	CNT_DROP_NOT_OWNED,
	CNT_DROP_FENCED,
	CNT_DROP_DISABLED,
	CNT_DROP_MALFORMED,
	CNT_ADMIT_FRAGMENT,
	CNT_DROP_FRAGMENT,
	CNT_MAX,
};

struct config {
	__u64 seed;
	/* No new flow is admitted once bpf_ktime_get_coarse_ns() reaches this: the daemon
	 * renews it every period, so a dead or hung daemon fails closed. The coarse clock
	 * lags the fine one by at most a tick, well inside the lease's one-period margin. */
	__u64 lease_deadline_ns;
	/* Connection table entries idle longer than this are forgotten. */
	__u64 idle_timeout_ns;
	__u32 table_size;
	__u32 chunks_per_rule;
	__u32 nr_rules;
	__u32 nr_vips;
	__u8 cluster_mac[6];
	/* Admitted frames sent to a group MAC are re-addressed to this MAC, so the
	 * stack treats them as sent to this host (CLUSTERIP set pkt_type instead). */
	__u8 own_mac[6];
	/* Source MAC of frames this program transmits (ARP replies). */
	__u8 tx_mac[6];
	__u8 pad[2];
	__u32 vips[MAX_VIPS]; /* network order */
};

struct rule {
	__u32 vip; /* network order; 0: all VIPs */
	__u16 port_lo;
	__u16 port_hi;
	__u8 proto; /* IPPROTO_TCP, IPPROTO_UDP, or 0 for both */
	__u8 filtering;
	__u8 affinity;
	__u8 pad;
};

struct slot_chunk {
	__u8 state[SLOTS_PER_CHUNK];
};

/* Only TCP connections are tracked (UDP is rebalanced), so the protocol is not part of
 * the key: 12 bytes hash in one round. */
struct flow_key {
	__u32 client;
	__u32 vip;
	__u16 client_port;
	__u16 server_port;
};

struct flow {
	__u64 last_ns;
};

struct frag_key {
	__u32 saddr;
	__u32 daddr;
	__u16 id;
	__u8 proto;
	__u8 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} CONFIG SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_RULES);
	__type(key, __u32);
	__type(value, struct rule);
} RULES SEC(".maps");

/* Rule r's slot s is SLOTS[r * chunks_per_rule + s / 64].state[s % 64]; the rule
 * after the last stands for traffic no rule covers (the default host's). The
 * daemon sets max_entries to (rules + 1) * chunks_per_rule at load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct slot_chunk);
} SLOTS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct flow_key);
	__type(value, struct flow);
} CONNS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct frag_key);
	__type(value, __u8);
} FRAGS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} COUNTERS SEC(".maps");

/* linux/icmp.h pulls in libc headers: the 8 bytes we read, spelled out. */
struct icmp_hdr {
	__u8 type;
	__u8 code;
	__u16 checksum;
	__u32 rest;
};
#define ICMP_DEST_UNREACH 3
#define ICMP_TIME_EXCEEDED 11

/* The coarse clock changes only at ticks: each CPU keeps the latest reading with the
 * jiffy it was taken in, so a packet pays a jiffies read instead of a clock read. */
struct clock_cache {
	__u64 jiffies;
	__u64 now;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct clock_cache);
} CLOCK SEC(".maps");

static __always_inline __u64 coarse_now(void)
{
	__u32 zero = 0;
	struct clock_cache *c = bpf_map_lookup_elem(&CLOCK, &zero);
	__u64 j = bpf_jiffies64();
	if (c && c->jiffies == j)
		return c->now;
	__u64 now = bpf_ktime_get_coarse_ns();
	if (c) {
		c->jiffies = j;
		c->now = now;
	}
	return now;
}

struct arp_ipv4 {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 op;
	__u8 sha[6];
	__be32 spa;
	__u8 tha[6];
	__be32 tpa;
} __attribute__((packed));

static __always_inline int count(__u32 c, int action)
{
	__u64 *v = bpf_map_lookup_elem(&COUNTERS, &c);
	if (v)
		*v += 1;
	return action;
}

static __always_inline __u64 fmix64(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* The Rust core's flow_hash for an IPv4 client (host-order address). */
static __always_inline __u64 flow_hash(__u64 seed, __u32 addr, __u16 port)
{
	__u64 h = fmix64(seed ^ (__u64)addr);
	return fmix64(h ^ (((__u64)port << 32) | 4));
}

static __always_inline int is_vip(const struct config *cfg, __u32 ip)
{
#pragma unroll
	for (int i = 0; i < MAX_VIPS; i++) {
		if (i >= cfg->nr_vips)
			break;
		if (cfg->vips[i] == ip)
			return 1;
	}
	return 0;
}

static __always_inline __u8 slot_state(const struct config *cfg, __u32 rule, __u32 slot)
{
	__u32 key = rule * cfg->chunks_per_rule + slot / SLOTS_PER_CHUNK;
	struct slot_chunk *c = bpf_map_lookup_elem(&SLOTS, &key);
	if (!c)
		return SLOT_NOT_OWNED;
	return c->state[slot & (SLOTS_PER_CHUNK - 1)];
}

/* The covering rule's index, a rule naming the VIP winning over an "all" rule;
 * nr_rules when none covers the packet. */
static __always_inline __u32 find_rule(const struct config *cfg, __u32 vip, __u8 proto, __u16 port)
{
	__u32 fallback = cfg->nr_rules;
	for (__u32 i = 0; i < MAX_RULES; i++) {
		if (i >= cfg->nr_rules)
			break;
		__u32 k = i;
		struct rule *r = bpf_map_lookup_elem(&RULES, &k);
		if (!r)
			break;
		if (r->proto && r->proto != proto)
			continue;
		if (port < r->port_lo || port > r->port_hi)
			continue;
		if (r->vip == vip)
			return i;
		if (r->vip == 0 && fallback == cfg->nr_rules)
			fallback = i;
	}
	return fallback;
}

struct verdict_in {
	__u32 vip;
	__u32 client; /* network order */
	__u16 client_port;
	__u16 server_port;
	__u8 proto;
	__u8 tcp_flags; /* SYN 0x02, ACK 0x10, FIN 0x01, RST 0x04; 0 when not TCP */
	__u8 has_ports;
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* The connection table entry of a flow this host holds, refreshed; FIN and RST end it.
 * 1 when found. */
static __always_inline int established(const struct config *cfg, struct flow_key *key, __u8 tcp_flags)
{
	struct flow *f = bpf_map_lookup_elem(&CONNS, key);
	if (!f)
		return 0;
	__u64 now = coarse_now();
	/* The daemon stamps entries with the precise clock, which can be ahead of this
	 * CPU's coarse one: an entry from the future is fresh, not idle for 2^64 ns. */
	if (now > f->last_ns && now - f->last_ns > cfg->idle_timeout_ns) {
		bpf_map_delete_elem(&CONNS, key);
		return 0;
	}
	if (tcp_flags & (TCP_FIN | TCP_RST))
		bpf_map_delete_elem(&CONNS, key);
	else if (now > f->last_ns + REFRESH_NS)
		/* Refreshed at most once a second: the idle timeout is minutes, and a write
		 * per packet would bounce the entry's cache line between CPUs. */
		f->last_ns = now;
	return 1;
}

/* 1: admit, 0: drop.
 *
 * Classification comes first, so the common cases touch no table: a slot this host
 * does not own is dropped at once (the convergence protocol moves a slot to not-owned
 * only once this host holds no connection there), and a segment in a fully owned slot
 * is admitted at once. The connection table is consulted where ownership is in
 * transition: released, new-flows-only and pending slots. Entries are not refreshed
 * while their slot is fully owned; the daemon stamps a slot's entries when it releases
 * it, so the idle timeout counts from then at the earliest. */
static __always_inline int decide(const struct config *cfg, const struct verdict_in *in)
{
	struct flow_key key = {
		.client = in->client,
		.vip = in->vip,
		.client_port = in->client_port,
		.server_port = in->server_port,
	};

	__u32 rule = cfg->nr_rules;
	if (in->has_ports)
		rule = find_rule(cfg, in->vip, in->proto, in->server_port);
	__u32 slot = 0;
	if (rule < cfg->nr_rules) {
		__u32 k = rule;
		struct rule *r = bpf_map_lookup_elem(&RULES, &k);
		if (!r)
			return 0;
		if (r->filtering == FILTER_DISABLED)
			return count(CNT_DROP_DISABLED, 0);
		if (r->filtering == FILTER_MULTIPLE) {
			__u32 addr = bpf_ntohl(in->client);
			__u16 port = in->client_port;
			if (r->affinity != AFFINITY_NONE)
				port = 0;
			if (r->affinity == AFFINITY_NETWORK)
				addr &= 0xffffff00;
			__u64 h = flow_hash(cfg->seed, addr, port);
			slot = (__u32)(((h >> 32) * (__u64)cfg->table_size) >> 32);
		}
	}
	__u8 st = slot_state(cfg, rule, slot);
	if (st == SLOT_NOT_OWNED)
		return count(CNT_DROP_NOT_OWNED, 0);

	int tcp = in->proto == IPPROTO_TCP;
	int syn = tcp && (in->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
	if (st == SLOT_OWNED && tcp && !syn) {
		if (coarse_now() < cfg->lease_deadline_ns) {
			if (in->tcp_flags & (TCP_FIN | TCP_RST))
				bpf_map_delete_elem(&CONNS, &key);
			return count(CNT_ADMIT_OWNED, 1);
		}
		/* Fenced: peers may own this slot by now; only our own connections go on,
		 * or our kernel would reset theirs. */
		if (established(cfg, &key, in->tcp_flags))
			return count(CNT_ADMIT_ESTABLISHED, 1);
		return count(CNT_DROP_FENCED, 0);
	}
	/* Ownership in transition: connections this host holds stay its own. */
	if (tcp && st != SLOT_OWNED && established(cfg, &key, in->tcp_flags))
		return count(CNT_ADMIT_ESTABLISHED, 1);
	if (st != SLOT_OWNED && st != SLOT_NEW_FLOWS_ONLY)
		return count(CNT_DROP_NOT_OWNED, 0);

	__u64 now = coarse_now();
	if (now >= cfg->lease_deadline_ns)
		return count(CNT_DROP_FENCED, 0);
	if (syn) {
		struct flow f = { .last_ns = now };
		bpf_map_update_elem(&CONNS, &key, &f, BPF_ANY);
		return count(CNT_ADMIT_NEW, 1);
	}
	/* A segment of a connection nobody here knows: only a full owner takes it (the
	 * previous owner may still be serving it). */
	if (tcp && st != SLOT_OWNED)
		return count(CNT_DROP_NOT_OWNED, 0);
	return count(CNT_ADMIT_OWNED, 1);
}

static __always_inline int pass_to_host(struct ethhdr *eth, const struct config *cfg)
{
	/* Frames to a group MAC would reach the stack as PACKET_MULTICAST, which TCP
	 * drops: address them to this host. */
	if (eth->h_dest[0] & 1)
		__builtin_memcpy(eth->h_dest, cfg->own_mac, 6);
	return XDP_PASS;
}

static __always_inline int handle_arp(struct xdp_md *ctx, struct ethhdr *eth, const struct config *cfg)
{
	void *end = (void *)(long)ctx->data_end;
	struct arp_ipv4 *arp = (void *)(eth + 1);
	if ((void *)(arp + 1) > end)
		return count(CNT_ARP_PASSED, XDP_PASS);
	if (arp->htype != bpf_htons(1) || arp->ptype != bpf_htons(ETH_P_IP) || arp->hlen != 6 ||
	    arp->plen != 4 || arp->op != bpf_htons(ARPOP_REQUEST) || !is_vip(cfg, arp->tpa))
		return count(CNT_ARP_PASSED, XDP_PASS);
	/* One host answers: the one that takes the default host's traffic. */
	__u8 st = slot_state(cfg, cfg->nr_rules, 0);
	if ((st != SLOT_OWNED && st != SLOT_NEW_FLOWS_ONLY) || coarse_now() >= cfg->lease_deadline_ns)
		return count(CNT_DROP_NOT_OWNED, XDP_DROP);

	__be32 vip = arp->tpa;
	__builtin_memcpy(arp->tha, arp->sha, 6);
	arp->tpa = arp->spa;
	__builtin_memcpy(arp->sha, cfg->cluster_mac, 6);
	arp->spa = vip;
	arp->op = bpf_htons(ARPOP_REPLY);
	__builtin_memcpy(eth->h_dest, arp->tha, 6);
	__builtin_memcpy(eth->h_source, cfg->tx_mac, 6);
	return count(CNT_ARP_REPLIED, XDP_TX);
}

SEC("xdp")
int nlb_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return count(CNT_DROP_MALFORMED, XDP_PASS);

	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&CONFIG, &zero);
	if (!cfg)
		return XDP_PASS;

	if (eth->h_proto == bpf_htons(ETH_P_NLB_HEARTBEAT))
		return count(CNT_PASS_HEARTBEAT, XDP_PASS);
	if (eth->h_proto == bpf_htons(ETH_P_ARP))
		return handle_arp(ctx, eth, cfg);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return count(CNT_PASS_NOT_IPV4, XDP_PASS);

	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return count(CNT_DROP_MALFORMED, XDP_PASS);
	if (!is_vip(cfg, ip->daddr))
		return count(CNT_PASS_NOT_VIP, XDP_PASS);
	__u32 ihl = ip->ihl * 4;
	if (ihl < sizeof(*ip))
		return count(CNT_DROP_MALFORMED, XDP_DROP);
	void *l4 = (void *)ip + ihl;

	/* Later fragments carry no ports: they follow their first fragment's verdict. */
	__u16 frag = bpf_ntohs(ip->frag_off);
	struct frag_key fk = { .saddr = ip->saddr, .daddr = ip->daddr, .id = ip->id, .proto = ip->protocol };
	if (frag & 0x1fff) {
		__u8 *v = bpf_map_lookup_elem(&FRAGS, &fk);
		if (v && *v)
			return count(CNT_ADMIT_FRAGMENT, pass_to_host(eth, cfg));
		return count(CNT_DROP_FRAGMENT, XDP_DROP);
	}

	struct verdict_in in = { .vip = ip->daddr, .client = ip->saddr, .proto = ip->protocol };
	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *t = l4;
		if ((void *)(t + 1) > end)
			return count(CNT_DROP_MALFORMED, XDP_DROP);
		in.client_port = bpf_ntohs(t->source);
		in.server_port = bpf_ntohs(t->dest);
		in.tcp_flags = ((__u8 *)t)[13];
		in.has_ports = 1;
	} else if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *u = l4;
		if ((void *)(u + 1) > end)
			return count(CNT_DROP_MALFORMED, XDP_DROP);
		in.client_port = bpf_ntohs(u->source);
		in.server_port = bpf_ntohs(u->dest);
		in.has_ports = 1;
	} else if (ip->protocol == IPPROTO_ICMP) {
		struct icmp_hdr *ic = l4;
		if ((void *)(ic + 1) > end)
			return count(CNT_DROP_MALFORMED, XDP_DROP);
		/* An error about a flow (fragmentation needed, port unreachable, time
		 * exceeded) goes to the host that owns the flow, found from the header
		 * it quotes: our packet from the VIP to the client. */
		if (ic->type == ICMP_DEST_UNREACH || ic->type == ICMP_TIME_EXCEEDED) {
			struct iphdr *inner = (void *)(ic + 1);
			if ((void *)(inner + 1) > end || inner->ihl != 5)
				return count(CNT_DROP_MALFORMED, XDP_DROP);
			__u16 *ports = (void *)(inner + 1);
			if ((void *)(ports + 2) > end)
				return count(CNT_DROP_MALFORMED, XDP_DROP);
			if (inner->saddr == ip->daddr &&
			    (inner->protocol == IPPROTO_TCP || inner->protocol == IPPROTO_UDP)) {
				in.client = inner->daddr;
				in.client_port = bpf_ntohs(ports[1]);
				in.server_port = bpf_ntohs(ports[0]);
				in.proto = inner->protocol;
				in.has_ports = 1;
				/* An error is never a SYN: an unknown flow needs a full owner,
				 * a known one is admitted by the connection table. */
				in.tcp_flags = inner->protocol == IPPROTO_TCP ? TCP_ACK : 0;
			}
		}
	}

	int admit = decide(cfg, &in);
	if (frag & 0x2000) {
		__u8 v = admit;
		bpf_map_update_elem(&FRAGS, &fk, &v, BPF_ANY);
	}
	if (!admit)
		return XDP_DROP;
	return pass_to_host(eth, cfg);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
