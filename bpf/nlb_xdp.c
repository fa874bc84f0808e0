// SPDX-License-Identifier: (MIT OR Apache-2.0)
// nlb's XDP data path: admit the flows this host owns, drop the rest, answer ARP
// for the IPv4 VIPs and neighbour discovery for the IPv6 ones, let heartbeats through
// to the daemon.
//
// Classification is the Rust core's (crates/nlb-core/src/hash.rs and classify.rs),
// proved equal by running the shared vectors (testdata/flow-hash-vectors.json)
// through this program with BPF_PROG_RUN. All maps are declared here; the daemon
// fills them. IPv4 and IPv6 VIPs are classified alike; IPv4's path comes first.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "nlb_abi.h"
#include "nlb_consts.h"

/* A TCP connection (only TCP is tracked: UDP is rebalanced), as the connection table
 * stores it: the addresses in one word (IPv4: network order, client low; IPv6: a keyed
 * fingerprint), the ports (host order, client low) in another. */
struct flow_key {
	__u64 addrs;
	__u32 ports;
	/* addrs is a keyed hash already (IPv6): the bucket needs no further mixing. A
	 * constant where the key is made, so each family keeps only its own code. */
	__u8 keyed;
};


/* What is fixed at load (the VIPs, the hash keys, the tables' shape; the daemon refuses
 * to change them on reload): read-only data the verifier knows, so a packet to no VIP
 * costs a compare per VIP, and the classification no map lookup for its parameters. */
const volatile struct fixed FIXED = {};

_Static_assert(MAX_VIPS <= 16, "an IPv6 connection's fingerprint holds the VIP index in 4 bits");

/* Source MACs (in the low 48 bits) that authenticated heartbeats came from: the daemon
 * adds a source once a frame from it verifies. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} HB_SOURCES SEC(".maps");

/* Per CPU: the second unknown heartbeat sources are counted in, and how many passed. */
struct hb_budget {
	__u64 since_ns;
	__u64 passed;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hb_budget);
} HB_BUDGET SEC(".maps");

/* A datagram's fragments: its source (an IPv4 address in the first word), the VIP it
 * goes to, its id (16 bits in IPv4, 32 in IPv6's fragment header), its protocol. */
struct frag_key {
	__u32 saddr[4];
	__u32 id;
	__u8 vip_index;
	__u8 proto;
	__u16 pad;
};

/* Mapped by the daemon, which renews the lease with one 8-byte store. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct config);
} CONFIG SEC(".maps");

/* PORTS[v * 65536 + port]: the rules covering port of the v-th VIP, computed by the
 * daemon from the core's rule matching, so a packet finds its rule in one lookup
 * whatever the number of rules. The daemon sets max_entries to 65536 per VIP. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct port_rules);
} PORTS SEC(".maps");

/* Rule r's slot s is SLOTS[r * chunks_per_rule + s / 64].state[s % 64]; the rule
 * after the last stands for traffic no rule covers (the default host's). The
 * daemon sets max_entries to (rules + 1) * chunks_per_rule at load. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct slot_chunk);
} SLOTS SEC(".maps");

/* The connection table: a set-associative cache of the connections this host holds,
 * in an array the daemon maps into its memory. A flow lives in the bucket its keyed
 * hash names, in any of the bucket's ways; a new flow takes a free or expired way, else
 * the least recently seen way whose handshake never completed, else it goes untracked:
 * a flood of spoofed SYNs never evicts an established connection. Every packet of a
 * tracked connection refreshes it (at most once a second), whatever its slot's state,
 * so idle time is real idle time. Readers take no lock: a writer makes the bucket's
 * sequence odd while it changes the bucket, and a reader trusts what it read only when
 * the sequence was even and unchanged around its reads (a seqlock). 2^17 buckets of 8
 * ways: a million connections, with hardly any evicted before a quarter of that is
 * held. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << CONN_BUCKET_BITS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct conn_bucket);
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

static __always_inline struct config *config(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&CONFIG, &zero);
}

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

/* The Rust core's flow_hash for an IPv6 client (its halves in host order): the halves
 * are mixed side by side, each with its own key. */
static __always_inline __u64 flow_hash6(__u64 hi, __u64 lo, __u16 port)
{
	__u64 h = fmix64(FIXED.seed ^ hi) ^ fmix64(FIXED.seed6 ^ lo);
	return fmix64(h ^ (((__u64)port << 32) | 6));
}

/* The index of IPv4 VIP ip, or MAX_VIPS when ip is no VIP. */
static __always_inline __u32 vip_index(__u32 ip)
{
#pragma unroll
	for (__u32 i = 0; i < MAX_VIPS; i++) {
		if (i >= FIXED.vip4_count)
			break;
		if (FIXED.vips4[i] == ip)
			return i;
	}
	return MAX_VIPS;
}

/* The index of the IPv6 VIP at a (16 bytes of the packet), or MAX_VIPS. */
static __always_inline __u32 vip6_index(const void *a)
{
	__u64 hi, lo;
	__builtin_memcpy(&hi, a, 8);
	__builtin_memcpy(&lo, a + 8, 8);
#pragma unroll
	for (__u32 i = 0; i < MAX_VIPS; i++) {
		if (i >= FIXED.vip6_count)
			break;
		if (FIXED.vips6[i][0] == hi && FIXED.vips6[i][1] == lo)
			return FIXED.vip4_count + i;
	}
	return MAX_VIPS;
}

static __always_inline __u8 slot_state(__u32 rule, __u32 slot)
{
	__u32 key = rule * FIXED.chunks_per_rule + slot / SLOTS_PER_CHUNK;
	struct slot_chunk *c = bpf_map_lookup_elem(&SLOTS, &key);
	if (!c)
		return SLOT_NOT_OWNED;
	return c->state[slot & (SLOTS_PER_CHUNK - 1)];
}

struct verdict_in {
	__u32 vip; /* IPv4 */
	__u32 vip_index;
	__u32 client; /* IPv4, network order */
	__u16 client_port;
	__u16 server_port;
	__u8 proto;
	__u8 tcp_flags; /* SYN 0x02, ACK 0x10, FIN 0x01, RST 0x04; 0 when not TCP */
	__u8 has_ports;
	/* A constant at every call of decide(), so each family's path keeps only its own
	 * code once inlined. */
	__u8 v6;
	__u32 client6[4]; /* IPv6, network order */
};


#define READ_ONCE_U32(x) (*(volatile __u32 *)&(x))

static __always_inline struct conn_bucket *conn_bucket(const struct flow_key *k)
{
	__u64 h = (k->keyed ? k->addrs : fmix64(k->addrs ^ FIXED.conn_seed)) ^ k->ports;
	__u32 idx = (h * 0x9e3779b97f4a7c15ULL) >> (64 - CONN_BUCKET_BITS);
	return bpf_map_lookup_elem(&CONNS, &idx);
}

/* The way of bucket b holding k, or CONN_WAYS; call between reading an even sequence
 * and checking it again. */
static __always_inline __u32 conn_way(const struct conn_bucket *b, const struct flow_key *k)
{
#pragma unroll
	for (__u32 i = 0; i < CONN_WAYS; i++)
		if (b->addrs[i] == k->addrs && b->ports[i] == k->ports)
			return i;
	return CONN_WAYS;
}

/* The way of bucket b holding k, else its first free way, else CONN_WAYS: one pass
 * over the ways' addresses. */
static __always_inline __u32 conn_way_or_free(const struct conn_bucket *b, const struct flow_key *k)
{
	__u32 free = CONN_WAYS;
#pragma unroll
	for (__u32 i = 0; i < CONN_WAYS; i++) {
		__u64 a = b->addrs[i];
		if (a == k->addrs && b->ports[i] == k->ports)
			return i;
		if (!a && free == CONN_WAYS)
			free = i;
	}
	return free;
}

/* Makes the bucket's sequence odd: this CPU may change the bucket until conn_unlock.
 * Returns the odd sequence, or 0 after a few tries (another writer holds it for a few
 * nanoseconds at most); a writer that gives up loses only an update the table can do
 * without. */
static __always_inline __u32 conn_lock(struct conn_bucket *b)
{
#pragma unroll
	for (int tries = 0; tries < 3; tries++) {
		__u32 s = READ_ONCE_U32(b->seq);
		if (!(s & 1) && __sync_val_compare_and_swap(&b->seq, s, s + 1) == s)
			return s + 1;
	}
	return 0;
}

/* Makes the sequence even again. Only the lock holder writes it, so a plain store
 * does: x86-64 makes stores visible in program order (the bucket's changes before the
 * new sequence), and the barrier keeps the compiler from reordering them. BPF has no
 * release store before cpu v4 (clang 21), so this, like the readers, assumes x86-64. */
static __always_inline void conn_unlock(struct conn_bucket *b, __u32 locked)
{
	asm volatile("" ::: "memory");
	*(volatile __u32 *)&b->seq = locked + 1;
}

/* Whether a way last seen at `seen` has idled out by `now`. The daemon stamps entries
 * with the precise clock, which can be ahead of this CPU's coarse one: an entry from
 * the future is fresh, not idle for 2^64 ns. */
static __always_inline int conn_idle(const struct config *cfg, __u64 seen, __u64 now)
{
	__u64 limit = (seen & CONN_CONFIRMED) ? cfg->idle_timeout_ns : UNCONFIRMED_TIMEOUT_NS;
	return now > seen && now - seen > limit;
}

/* Remembers a connection this host has just admitted the SYN of (v6_slot: the
 * conn_bucket.v6_slots word, 0 for IPv4). */
static __always_inline void conn_insert(const struct config *cfg, const struct flow_key *k, __u64 now,
					__u32 v6_slot)
{
	struct conn_bucket *b = conn_bucket(k);
	__u32 locked = b ? conn_lock(b) : 0;
	if (!locked)
		return;
	/* The same flow again (a retransmitted SYN), else a free way, else an idle one,
	 * else the unconfirmed way seen longest ago. Confirmed connections stay. */
	__u32 way = conn_way_or_free(b, k);
	if (way == CONN_WAYS) {
		__u64 oldest = ~0ULL;
#pragma unroll
		for (__u32 i = 0; i < CONN_WAYS; i++) {
			__u64 seen = b->seen_ns[i];
			if (conn_idle(cfg, seen, now)) {
				way = i;
				break;
			}
			if (!(seen & CONN_CONFIRMED) && seen < oldest) {
				oldest = seen;
				way = i;
			}
		}
		if (way < CONN_WAYS && !conn_idle(cfg, b->seen_ns[way & (CONN_WAYS - 1)], now))
			count(CNT_CONN_EVICTED_UNCONFIRMED, 0);
	}
	if (way >= CONN_WAYS) {
		conn_unlock(b, locked);
		count(CNT_CONN_TABLE_FULL, 0);
		return;
	}
	b->addrs[way] = k->addrs;
	b->ports[way] = k->ports;
	b->seen_ns[way] = now & ~CONN_CONFIRMED;
	b->v6_slots[way & (CONN_WAYS - 1)] = v6_slot;
	conn_unlock(b, locked);
}

/* Forgets connection k of bucket b (its FIN or RST went through, or it idled out). */
static __always_inline void conn_forget(struct conn_bucket *b, const struct flow_key *k)
{
	__u32 locked = conn_lock(b);
	if (!locked)
		return;
	__u32 way = conn_way(b, k);
	if (way < CONN_WAYS)
		b->addrs[way] = 0;
	conn_unlock(b, locked);
}

/* Whether this host holds the connection: its entry is found, refreshed (confirmed by
 * the client's first ACK), and ended by FIN or RST. A reader racing a writer of the
 * same bucket does not trust what it read and answers no: the segment is dropped and
 * retransmitted, never admitted wrongly. */
static __always_inline int established(const struct config *cfg, struct flow_key *key, __u8 tcp_flags,
				       __u64 now)
{
	struct conn_bucket *b = conn_bucket(key);
	if (!b)
		return 0;
	__u32 seq = READ_ONCE_U32(b->seq);
	if (seq & 1)
		return 0;
	/* x86 keeps loads in order; the barriers keep the compiler from moving them. */
	asm volatile("" ::: "memory");
	__u32 way = conn_way(b, key);
	__u64 seen = 0;
	if (way < CONN_WAYS)
		seen = b->seen_ns[way & (CONN_WAYS - 1)];
	asm volatile("" ::: "memory");
	if (way == CONN_WAYS || READ_ONCE_U32(b->seq) != seq)
		return 0;
	way &= CONN_WAYS - 1;
	if (conn_idle(cfg, seen, now)) {
		conn_forget(b, key);
		return 0;
	}
	__u64 confirmed = (seen | (tcp_flags & TCP_ACK ? CONN_CONFIRMED : 0)) & CONN_CONFIRMED;
	if (tcp_flags & (TCP_FIN | TCP_RST))
		conn_forget(b, key);
	else if (now > seen + REFRESH_NS || confirmed != (seen & CONN_CONFIRMED))
		/* Refreshed at most once a second (the idle timeout is hours; a write per
		 * packet would bounce the bucket's cache line between CPUs) and when the
		 * handshake completes, without the lock: a stamp landing on a way just
		 * reused makes that entry look fresh, which only delays its eviction. */
		b->seen_ns[way] = (now & ~CONN_CONFIRMED) | confirmed;
	return 1;
}

/* 1: admit, 0: drop.
 *
 * Classification comes first, so the common case touches no table: a slot this host
 * does not own is dropped at once (the convergence protocol moves a slot to not-owned
 * only once this host holds no connection there). A segment in a fully owned slot is
 * admitted whatever the table says, and refreshes its entry there, so that a
 * connection's idle time is real wherever its slot goes later. Where ownership is in
 * transition (released, new-flows-only and pending slots) the table decides. */
static __always_inline int decide(const struct verdict_in *in)
{
	/* Without ports (ICMP other than errors about a flow, other protocols) no rule
	 * covers a packet: it is the default host's. */
	struct rule_ref ref = { .rule = FIXED.nr_rules, .filtering = FILTER_SINGLE };
	if (in->has_ports) {
		__u32 k = in->vip_index * 65536 + in->server_port;
		struct port_rules *pr = bpf_map_lookup_elem(&PORTS, &k);
		if (!pr)
			return count(CNT_DROP_NOT_OWNED, 0);
		ref = in->proto == IPPROTO_TCP ? pr->tcp : pr->udp;
	}
	if (ref.filtering == FILTER_DISABLED)
		return count(CNT_DROP_DISABLED, 0);
	__u32 slot = 0;
	if (ref.filtering == FILTER_MULTIPLE) {
		__u16 port = in->client_port;
		if (ref.affinity != AFFINITY_NONE)
			port = 0;
		__u64 h;
		if (in->v6) {
			__u64 hi, lo;
			__builtin_memcpy(&hi, &in->client6[0], 8);
			__builtin_memcpy(&lo, &in->client6[2], 8);
			hi = bpf_be64_to_cpu(hi);
			lo = bpf_be64_to_cpu(lo);
			if (ref.affinity == AFFINITY_NETWORK)
				lo = 0;
			h = flow_hash6(hi, lo, port);
		} else {
			__u32 addr = bpf_ntohl(in->client);
			if (ref.affinity == AFFINITY_NETWORK)
				addr &= 0xffffff00;
			h = flow_hash(FIXED.seed, addr, port);
		}
		slot = (__u32)(((h >> 32) * (__u64)FIXED.table_size) >> 32);
	}
	__u8 st = slot_state(ref.rule, slot);
	if (st == SLOT_NOT_OWNED)
		return count(CNT_DROP_NOT_OWNED, 0);

	/* Only now the mutable configuration (lease, idle timeout): the drop above, the
	 * most common verdict in a cluster, needs none of it. */
	const struct config *cfg = config();
	if (!cfg)
		return 0;
	/* Likewise the connection table's key. An IPv6 connection's addresses do not fit
	 * a word: it is known by a 64-bit fingerprint keyed by the load's random seed, so
	 * nobody outside can make two flows share one (a chance one needs the same bucket
	 * and ports too: about 2^-59 a lookup). Two rounds make the address's fingerprint
	 * (nobody can aim the second word at the first's mix without the key); the VIP's
	 * index takes bits 1..4 of it, bit 0 is set (a free way is 0). Only TCP is
	 * tracked, so only TCP pays for it. */
	int tcp = in->proto == IPPROTO_TCP;
	struct flow_key key = {
		.ports = ((__u32)in->server_port << 16) | in->client_port,
	};
	__u32 v6_slot = 0;
	if (in->v6 && tcp) {
		__u64 x = fmix64(FIXED.conn_seed ^ (((__u64)in->client6[0] << 32) | in->client6[1]));
		x = fmix64(x ^ (((__u64)in->client6[2] << 32) | in->client6[3]));
		key.addrs = (x & ~0x1fULL) | ((__u64)in->vip_index << 1) | 1;
		key.keyed = 1;
		v6_slot = CONN_V6 | ((__u32)ref.rule << CONN_V6_RULE_SHIFT) | slot;
	} else if (!in->v6) {
		key.addrs = ((__u64)in->vip << 32) | in->client;
	}

	int syn = tcp && (in->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
	__u64 now = coarse_now();
	if (st == SLOT_OWNED && tcp && !syn) {
		int ours = established(cfg, &key, in->tcp_flags, now);
		if (now < cfg->lease_deadline_ns)
			return count(CNT_ADMIT_OWNED, 1);
		/* Fenced: peers may own this slot by now; only our own connections go on,
		 * or our kernel would reset theirs. */
		if (ours)
			return count(CNT_ADMIT_ESTABLISHED, 1);
		return count(CNT_DROP_FENCED, 0);
	}
	/* Ownership in transition: connections this host holds stay its own. */
	if (tcp && st != SLOT_OWNED && established(cfg, &key, in->tcp_flags, now))
		return count(CNT_ADMIT_ESTABLISHED, 1);
	if (st != SLOT_OWNED && st != SLOT_NEW_FLOWS_ONLY)
		return count(CNT_DROP_NOT_OWNED, 0);

	if (now >= cfg->lease_deadline_ns)
		return count(CNT_DROP_FENCED, 0);
	if (syn) {
		conn_insert(cfg, &key, now, v6_slot);
		return count(CNT_ADMIT_NEW, 1);
	}
	/* A segment of a connection nobody here knows: only a full owner takes it (the
	 * previous owner may still be serving it). */
	if (tcp && st != SLOT_OWNED)
		return count(CNT_DROP_NOT_OWNED, 0);
	return count(CNT_ADMIT_OWNED, 1);
}

static __always_inline int pass_to_host(struct ethhdr *eth)
{
	/* An admitted frame came to the cluster MAC: a group MAC (multicast modes), which
	 * the stack would take as PACKET_MULTICAST, or a second unicast MAC the NIC
	 * receives (unicast mode), which it would take as another host's. TCP drops
	 * both: address it to this host. (Tested as flags, not rewritten always: the
	 * unconditional copy cost admitted packets 0.1x the XDP_PASS floor.) */
	if ((eth->h_dest[0] & 1) || FIXED.unicast_mode) {
		const struct config *cfg = config();
		if (cfg)
			__builtin_memcpy(eth->h_dest, cfg->own_mac, 6);
	}
	return XDP_PASS;
}

/* The ports of the TCP or UDP header at l4 (and TCP's flags), for in->proto; other
 * protocols have none. Non-zero when the header is cut short. */
static __always_inline int read_ports(struct verdict_in *in, void *l4, void *end)
{
	if (in->proto == IPPROTO_TCP) {
		struct tcphdr *t = l4;
		if ((void *)(t + 1) > end)
			return -1;
		in->client_port = bpf_ntohs(t->source);
		in->server_port = bpf_ntohs(t->dest);
		in->tcp_flags = ((__u8 *)t)[TCP_FLAGS_OFFSET];
		in->has_ports = 1;
	} else if (in->proto == IPPROTO_UDP) {
		struct udphdr *u = l4;
		if ((void *)(u + 1) > end)
			return -1;
		in->client_port = bpf_ntohs(u->source);
		in->server_port = bpf_ntohs(u->dest);
		in->has_ports = 1;
	}
	return 0;
}

/* The flow an ICMP error quotes (our packet from the VIP to the client: its ports at
 * `ports`, source first), `proto` TCP or UDP. */
static __always_inline void quoted_flow(struct verdict_in *in, __u8 proto, const __u16 *ports)
{
	in->client_port = bpf_ntohs(ports[1]);
	in->server_port = bpf_ntohs(ports[0]);
	in->proto = proto;
	in->has_ports = 1;
	/* An error is never a SYN: an unknown flow needs a full owner, a known one is
	 * admitted by the connection table. */
	in->tcp_flags = proto == IPPROTO_TCP ? TCP_ACK : 0;
}

/* A later fragment goes where its first went (and is dropped if that is unknown). */
static __always_inline int later_fragment(struct ethhdr *eth, const struct frag_key *fk)
{
	__u8 *v = bpf_map_lookup_elem(&FRAGS, fk);
	if (v && *v)
		return count(CNT_ADMIT_FRAGMENT, pass_to_host(eth));
	return count(CNT_DROP_FRAGMENT, XDP_DROP);
}

/* Remembers a first fragment's verdict for the fragments after it. */
static __always_inline void first_fragment(const struct frag_key *fk, int admit)
{
	__u8 v = admit;
	bpf_map_update_elem(&FRAGS, fk, &v, BPF_ANY);
}

/* Whether this host answers for the VIPs (ARP, neighbour discovery): the one that takes
 * the default host's traffic, while its lease holds. */
static __always_inline int responder(const struct config *cfg)
{
	__u8 st = slot_state(FIXED.nr_rules, 0);
	return (st == SLOT_OWNED || st == SLOT_NEW_FLOWS_ONLY) && coarse_now() < cfg->lease_deadline_ns;
}

static __always_inline int handle_arp(struct xdp_md *ctx, struct ethhdr *eth)
{
	void *end = (void *)(long)ctx->data_end;
	struct arp_ipv4 *arp = (void *)(eth + 1);
	if ((void *)(arp + 1) > end)
		return count(CNT_ARP_PASSED, XDP_PASS);
	if (arp->htype != bpf_htons(1) || arp->ptype != bpf_htons(ETH_P_IP) || arp->hlen != 6 ||
	    arp->plen != 4 || arp->op != bpf_htons(ARPOP_REQUEST) || vip_index(arp->tpa) == MAX_VIPS)
		return count(CNT_ARP_PASSED, XDP_PASS);
	struct config *cfg = config();
	if (!cfg)
		return XDP_PASS;
	/* One host answers: the one that takes the default host's traffic. */
	if (!responder(cfg))
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

/* Heartbeats from members pass; anything else of that EtherType passes within a small
 * budget, so that a flood of junk (anyone on the LAN can send it, without the key)
 * costs the daemon nothing beyond the budget and never crowds out members' frames. */
static __always_inline int heartbeat(struct ethhdr *eth)
{
	__u64 src = 0;
	__builtin_memcpy(&src, eth->h_source, 6);
	if (bpf_map_lookup_elem(&HB_SOURCES, &src))
		return count(CNT_PASS_HEARTBEAT, XDP_PASS);
	__u32 zero = 0;
	struct hb_budget *b = bpf_map_lookup_elem(&HB_BUDGET, &zero);
	if (!b)
		return count(CNT_DROP_HEARTBEAT_UNKNOWN, XDP_DROP);
	__u64 now = coarse_now();
	if (now - b->since_ns >= NS_PER_SEC) {
		b->since_ns = now;
		b->passed = 0;
	}
	if (b->passed >= HB_UNKNOWN_PER_SEC)
		return count(CNT_DROP_HEARTBEAT_UNKNOWN, XDP_DROP);
	b->passed++;
	return count(CNT_PASS_HEARTBEAT_UNKNOWN, XDP_PASS);
}

/* Ethernet header without the packed attribute of linux/if_ether.h, so the EtherType
 * is read in one load. */
struct eth {
	__u8 dest[6];
	__u8 source[6];
	__be16 proto;
};

#include "nlb_ipv6.h"

/* Frames that are not IPv4 with a whole IP header: heartbeats, ARP, IPv6, the rest. */
static __always_inline int other_frame(struct xdp_md *ctx, struct ethhdr *eth)
{
	void *end = (void *)(long)ctx->data_end;
	if ((void *)(eth + 1) > end)
		return count(CNT_DROP_MALFORMED, XDP_PASS);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return ipv6_frame(ctx, eth);
	if (eth->h_proto == bpf_htons(ETH_P_NLB_HEARTBEAT))
		return heartbeat(eth);
	if (eth->h_proto == bpf_htons(ETH_P_ARP))
		return handle_arp(ctx, eth);
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return count(CNT_DROP_MALFORMED, XDP_PASS);
	return count(CNT_PASS_NOT_IP, XDP_PASS);
}

SEC("xdp")
int nlb_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	/* The common case first: IPv4 to no VIP passes after a compare per VIP. */
	if ((void *)(ip + 1) > end || ((struct eth *)data)->proto != bpf_htons(ETH_P_IP))
		return other_frame(ctx, eth);
	__u32 vip = vip_index(ip->daddr);
	if (vip == MAX_VIPS)
		return count(CNT_PASS_NOT_VIP, XDP_PASS);

	/* The common case on its own straight path: TCP or UDP after a header without
	 * options, not a fragment. */
	__u8 proto = ip->protocol;
	if (__builtin_expect(*(__u8 *)ip == IPV4_NO_OPTIONS &&
				     !(ip->frag_off & bpf_htons(IP_OFFSET_MASK | IP_MORE_FRAGMENTS)) &&
				     (proto == IPPROTO_TCP || proto == IPPROTO_UDP),
			     1)) {
		__u8 *l4 = (void *)(ip + 1);
		if (l4 + (proto == IPPROTO_TCP ? sizeof(struct tcphdr) : sizeof(struct udphdr)) > (__u8 *)end)
			return count(CNT_DROP_MALFORMED, XDP_DROP);
		struct verdict_in in = {
			.vip = ip->daddr,
			.vip_index = vip,
			.client = ip->saddr,
			.client_port = bpf_ntohs(*(__u16 *)l4),
			.server_port = bpf_ntohs(*(__u16 *)(l4 + 2)),
			.proto = proto,
			.tcp_flags = proto == IPPROTO_TCP ? l4[TCP_FLAGS_OFFSET] : 0,
			.has_ports = 1,
		};
		if (!decide(&in))
			return XDP_DROP;
		return pass_to_host(eth);
	}

	__u32 ihl = ip->ihl * 4;
	if (ihl < sizeof(*ip))
		return count(CNT_DROP_MALFORMED, XDP_DROP);
	void *l4 = (void *)ip + ihl;

	/* Later fragments carry no ports: they follow their first fragment's verdict. */
	__u16 frag = bpf_ntohs(ip->frag_off);
	struct frag_key fk = { .saddr = { ip->saddr }, .id = ip->id, .vip_index = vip, .proto = ip->protocol };
	if (frag & IP_OFFSET_MASK)
		return later_fragment(eth, &fk);

	struct verdict_in in = { .vip = ip->daddr, .vip_index = vip, .client = ip->saddr, .proto = ip->protocol };
	if (read_ports(&in, l4, end))
		return count(CNT_DROP_MALFORMED, XDP_DROP);
	if (ip->protocol == IPPROTO_ICMP) {
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
				quoted_flow(&in, inner->protocol, ports);
			}
		}
	}

	int admit = decide(&in);
	if (frag & IP_MORE_FRAGMENTS)
		first_fragment(&fk, admit);
	if (!admit)
		return XDP_DROP;
	return pass_to_host(eth);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
