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

#define NS_PER_SEC 1000000000ULL
/* A connection's entry is refreshed at most this often: the idle timeout is hours, and
 * a write per packet would bounce the bucket's cache line between CPUs. */
#define REFRESH_NS NS_PER_SEC
/* Heartbeat-type frames from a source no member has sent from pass at most this many a
 * second per CPU: enough for hosts joining, too few for a flood to cost the daemon. */
#define HB_UNKNOWN_PER_SEC 200

#endif
