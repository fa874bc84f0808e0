/* SPDX-License-Identifier: (MIT OR Apache-2.0) */
/* The XDP program's own constants: wire values and tuning, named once. */
#ifndef NLB_CONSTS_H
#define NLB_CONSTS_H

/* nlb's heartbeats: IEEE 802 local experimental EtherType 1. */
#define ETH_P_NLB_HEARTBEAT 0x88b5
#define ARPOP_REQUEST 1
#define ARPOP_REPLY 2

/* The first byte of an IPv4 header without options: version 4, 5 words long. */
#define IPV4_NO_OPTIONS 0x45
/* IPv4 frag_off, host order: the fragment offset, and "more fragments". */
#define IP_OFFSET_MASK 0x1fff
#define IP_MORE_FRAGMENTS 0x2000

/* The TCP header's flags byte, and its flags. */
#define TCP_FLAGS_OFFSET 13
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* ICMP types whose payload quotes the flow they are about. */
#define ICMP_DEST_UNREACH 3
#define ICMP_TIME_EXCEEDED 11

/* IPv6: the extension headers the program walks, and how many at most (a bound the
 * verifier needs; real traffic carries one or two). A packet with more, or with one
 * the program does not walk (AH, ESP, mobility...), has no ports for it: no rule covers
 * it, and it goes to the default host. */
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_DEST 60
#define NEXTHDR_ICMPV6 58
#define IPV6_EXT_HEADERS_MAX 4
/* The fragment header's offset (8-byte units, in the top 13 bits) and "more". */
#define IP6_OFFSET_MASK 0xfff8
#define IP6_MORE_FRAGMENTS 0x0001

/* ICMPv6 errors that quote the flow they are about, and neighbour discovery. */
#define ICMPV6_DEST_UNREACH 1
#define ICMPV6_PKT_TOOBIG 2
#define ICMPV6_TIME_EXCEED 3
#define ICMPV6_PARAMPROB 4
#define NDISC_NEIGHBOUR_SOLICITATION 135
#define NDISC_NEIGHBOUR_ADVERTISEMENT 136
#define ND_OPT_TARGET_LL_ADDR 2
/* RFC 4861 §4.4: a Neighbor Advertisement's flags (the first byte after the checksum). */
#define NA_FLAG_SOLICITED 0x40
#define NA_FLAG_OVERRIDE 0x20
/* Neighbour discovery messages are sent, and accepted, with this hop limit only. */
#define NDISC_HOP_LIMIT 255

#define NS_PER_SEC 1000000000ULL
/* A connection's entry is refreshed at most this often: the idle timeout is hours, and
 * a write per packet would bounce the bucket's cache line between CPUs. */
#define REFRESH_NS NS_PER_SEC
/* Heartbeat-type frames from a source no member has sent from pass at most this many a
 * second per CPU: enough for hosts joining, too few for a flood to cost the daemon. */
#define HB_UNKNOWN_PER_SEC 200

#endif
