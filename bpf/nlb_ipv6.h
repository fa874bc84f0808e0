/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/* Part of nlb_xdp.c (included after its shared helpers): IPv6 to a VIP, classified
 * exactly as IPv4 (decide() with v6 set), and neighbour discovery for the VIPs, as ARP
 * is answered for IPv4: one host, the one that takes the default host's traffic,
 * answers a Neighbor Solicitation for a VIP with the cluster MAC; the others stay
 * silent. The kernel never advertises a VIP itself: the VIPs are on lo, and Linux
 * answers a solicitation only for addresses of the interface it came in on. */
#ifndef NLB_IPV6_H
#define NLB_IPV6_H

/* A Neighbor Solicitation's first 24 bytes, and a Neighbor Advertisement with its
 * Target Link-Layer Address option (RFC 4861 §4.3, §4.4, §4.6.1): 32 bytes. */
struct nd_msg {
	__u8 type;
	__u8 code;
	__u16 checksum;
	__u8 flags; /* an advertisement's R, S, O; reserved in a solicitation */
	__u8 reserved[3];
	__u8 target[16];
	__u8 opt_type;
	__u8 opt_len; /* in units of 8 bytes */
	__u8 opt_mac[6];
};

#define NS_MIN_LEN 24
#define NA_FRAME_LEN (sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + sizeof(struct nd_msg))

static __always_inline int same_addr6(const void *a, const void *b)
{
	__u64 a0, a1, b0, b1;
	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	return a0 == b0 && a1 == b1;
}

/* The ICMPv6 checksum of an advertisement (RFC 8200 §8.1's pseudo-header: the
 * addresses, the upper-layer length and the next header). One's complement sums do
 * not care about byte order, so the words are added as loaded. */
static __always_inline __u16 nd_checksum(const struct ipv6hdr *ip6, const struct nd_msg *na)
{
	__u32 sum = bpf_htons(sizeof(*na)) + bpf_htons(NEXTHDR_ICMPV6);
	const __u16 *w = (const void *)&ip6->saddr;
#pragma unroll
	for (int i = 0; i < 16; i++)
		sum += w[i];
	w = (const void *)na;
#pragma unroll
	for (int i = 0; i < (int)(sizeof(*na) / 2); i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* An ICMPv6 message that may be a Neighbor Solicitation (to a solicited-node group, or
 * to a VIP itself to check it is still reachable). A solicitation for a VIP is answered
 * by the responder and dropped elsewhere; anything else passes. */
static __always_inline int neighbour_solicitation(struct xdp_md *ctx, struct ethhdr *eth)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	struct nd_msg *ns = (void *)(ip6 + 1);
	if ((void *)ns + NS_MIN_LEN > end || ip6->nexthdr != NEXTHDR_ICMPV6 ||
	    ns->type != NDISC_NEIGHBOUR_SOLICITATION)
		return count(CNT_PASS_NOT_VIP, XDP_PASS);
	/* RFC 4861 §7.1.1: a solicitation from off-link (hop limit below 255) is invalid. */
	if (ns->code != 0 || ip6->hop_limit != NDISC_HOP_LIMIT || vip6_index(ns->target) == MAX_VIPS)
		return count(CNT_NDP_PASSED, XDP_PASS);
	struct config *cfg = config();
	if (!cfg)
		return XDP_PASS;
	if (!responder(cfg))
		return count(CNT_DROP_NOT_OWNED, XDP_DROP);

	__u64 target[2], peer[2];
	__u8 peer_mac[6];
	__builtin_memcpy(target, ns->target, 16);
	__builtin_memcpy(peer, &ip6->saddr, 16);
	__builtin_memcpy(peer_mac, eth->h_source, 6);
	/* Duplicate address detection (from ::) is answered to all nodes (§7.2.4). */
	int dad = !(peer[0] | peer[1]);

	/* The advertisement is 86 bytes; a solicitation without an option is 8 shorter. */
	int delta = (int)NA_FRAME_LEN - (int)(end - data);
	if (delta && bpf_xdp_adjust_tail(ctx, delta))
		return count(CNT_DROP_MALFORMED, XDP_DROP);
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	ip6 = (void *)(eth + 1);
	struct nd_msg *na = (void *)(ip6 + 1);
	if ((void *)(na + 1) > end)
		return count(CNT_DROP_MALFORMED, XDP_DROP);

	if (dad) {
		static const __u8 all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
		__builtin_memcpy(eth->h_dest, all_nodes_mac, 6);
		peer[0] = bpf_cpu_to_be64(0xff02000000000000ULL);
		peer[1] = bpf_cpu_to_be64(1);
	} else {
		__builtin_memcpy(eth->h_dest, peer_mac, 6);
	}
	__builtin_memcpy(eth->h_source, cfg->tx_mac, 6);
	*(__be32 *)ip6 = bpf_htonl(0x60000000); /* version 6, no traffic class or flow */
	ip6->payload_len = bpf_htons(sizeof(*na));
	ip6->nexthdr = NEXTHDR_ICMPV6;
	ip6->hop_limit = NDISC_HOP_LIMIT;
	__builtin_memcpy(&ip6->saddr, target, 16);
	__builtin_memcpy(&ip6->daddr, peer, 16);
	na->type = NDISC_NEIGHBOUR_ADVERTISEMENT;
	na->code = 0;
	na->checksum = 0;
	/* Override: neighbours replace what they had (a previous responder's answer is
	 * the same MAC, a stale entry is not). */
	na->flags = NA_FLAG_OVERRIDE | (dad ? 0 : NA_FLAG_SOLICITED);
	na->reserved[0] = na->reserved[1] = na->reserved[2] = 0;
	__builtin_memcpy(na->target, target, 16);
	na->opt_type = ND_OPT_TARGET_LL_ADDR;
	na->opt_len = 1;
	__builtin_memcpy(na->opt_mac, cfg->cluster_mac6, 6);
	na->checksum = nd_checksum(ip6, na);
	return count(CNT_NDP_REPLIED, XDP_TX);
}

/* IPv6, to a VIP or not. Extension headers are walked (at most IPV6_EXT_HEADERS_MAX of
 * hop-by-hop, routing, destination options, fragment); a packet whose transport header
 * lies beyond them has no ports for the program and goes to the default host. */
static __always_inline int ipv6_frame(struct xdp_md *ctx, struct ethhdr *eth)
{
	void *end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	if ((void *)(ip6 + 1) > end)
		return count(CNT_DROP_MALFORMED, XDP_PASS);
	__u32 vip = vip6_index(&ip6->daddr);
	if (vip == MAX_VIPS) {
		if (ip6->nexthdr == NEXTHDR_ICMPV6)
			return neighbour_solicitation(ctx, eth);
		return count(CNT_PASS_NOT_VIP, XDP_PASS);
	}

	/* The common case on its own straight path, as IPv4's: TCP or UDP right after the
	 * header. */
	__u8 nh = ip6->nexthdr;
	if (__builtin_expect(nh == IPPROTO_TCP || nh == IPPROTO_UDP, 1)) {
		__u8 *l4 = (void *)(ip6 + 1);
		if (l4 + (nh == IPPROTO_TCP ? sizeof(struct tcphdr) : sizeof(struct udphdr)) > (__u8 *)end)
			return count(CNT_DROP_MALFORMED, XDP_DROP);
		struct verdict_in in = {
			.vip_index = vip,
			.client_port = bpf_ntohs(*(__u16 *)l4),
			.server_port = bpf_ntohs(*(__u16 *)(l4 + 2)),
			.proto = nh,
			.tcp_flags = nh == IPPROTO_TCP ? l4[TCP_FLAGS_OFFSET] : 0,
			.has_ports = 1,
			.v6 = 1,
		};
		__builtin_memcpy(in.client6, &ip6->saddr, 16);
		if (!decide(&in))
			return XDP_DROP;
		return pass_to_host(eth);
	}

	struct verdict_in in = { .vip_index = vip, .v6 = 1 };
	__builtin_memcpy(in.client6, &ip6->saddr, 16);
	__u8 *p = (void *)(ip6 + 1);
	__u16 frag = 0;
	__u32 frag_id = 0;
	int fragmented = 0;
#pragma unroll
	for (int i = 0; i < IPV6_EXT_HEADERS_MAX; i++) {
		if (nh == NEXTHDR_FRAGMENT) {
			if (p + 8 > (__u8 *)end)
				return count(CNT_DROP_MALFORMED, XDP_DROP);
			frag = bpf_ntohs(*(__u16 *)(p + 2));
			frag_id = *(__u32 *)(p + 4);
			fragmented = 1;
			nh = p[0];
			p += 8;
		} else if (nh == NEXTHDR_HOP || nh == NEXTHDR_ROUTING || nh == NEXTHDR_DEST) {
			if (p + 2 > (__u8 *)end)
				return count(CNT_DROP_MALFORMED, XDP_DROP);
			nh = p[0];
			p += ((__u32)p[1] + 1) * 8;
		} else {
			break;
		}
	}

	/* Later fragments carry no ports: they follow their first fragment's verdict. */
	struct frag_key fk = { .id = frag_id, .vip_index = vip, .proto = nh };
	if (fragmented) {
		__builtin_memcpy(fk.saddr, &ip6->saddr, 16);
		if (frag & IP6_OFFSET_MASK)
			return later_fragment(eth, &fk);
	}

	in.proto = nh;
	if (read_ports(&in, p, end))
		return count(CNT_DROP_MALFORMED, XDP_DROP);
	if (nh == NEXTHDR_ICMPV6) {
		struct icmp_hdr *ic = (void *)p;
		if ((void *)(ic + 1) > end)
			return count(CNT_DROP_MALFORMED, XDP_DROP);
		/* A client checking the VIP is still reachable asks the VIP itself. */
		if (ic->type == NDISC_NEIGHBOUR_SOLICITATION)
			return neighbour_solicitation(ctx, eth);
		/* An error about a flow (packet too big, unreachable, time exceeded, a
		 * parameter problem) goes to the host that owns the flow, found from the
		 * header it quotes: our packet from the VIP to the client. Path MTU
		 * discovery needs Packet Too Big to reach the connection's host. */
		if (ic->type >= ICMPV6_DEST_UNREACH && ic->type <= ICMPV6_PARAMPROB) {
			struct ipv6hdr *inner = (void *)(ic + 1);
			__u16 *ports = (void *)(inner + 1);
			if ((void *)(ports + 2) > end)
				return count(CNT_DROP_MALFORMED, XDP_DROP);
			if (same_addr6(&inner->saddr, &ip6->daddr) &&
			    (inner->nexthdr == IPPROTO_TCP || inner->nexthdr == IPPROTO_UDP)) {
				__builtin_memcpy(in.client6, &inner->daddr, 16);
				quoted_flow(&in, inner->nexthdr, ports);
			}
		}
	}

	int admit = decide(&in);
	if (fragmented && (frag & IP6_MORE_FRAGMENTS))
		first_fragment(&fk, admit);
	if (!admit)
		return XDP_DROP;
	return pass_to_host(eth);
}

#endif
