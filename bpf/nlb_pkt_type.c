// SPDX-License-Identifier: (MIT OR Apache-2.0)
// At the ingress of a veth cluster interface running nlb's XDP program natively: the
// packet type of frames that program re-addressed to this host.
//
// nlb_xdp.c re-addresses an admitted frame sent to the cluster MAC (a group MAC in the
// multicast modes, a second unicast MAC in unicast mode) to this host's own MAC,
// because TCP drops whatever the stack did not receive as addressed to this host. A
// NIC driver builds its skb after XDP ran, so the stack classifies the frame by the
// rewritten address. veth in native mode runs XDP on the skb it was handed and keeps
// the packet type its sender computed: the frame reaches IP as PACKET_MULTICAST or
// PACKET_OTHERHOST though it is addressed to this host's own MAC, and TCP drops it.
// This program makes such frames PACKET_HOST (a frame to another host's MAC, received
// because the interface is promiscuous, stays what it is). nlbd attaches it only
// there.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

/* This host's MAC (6 bytes), set at load. */
const volatile __u8 OWN_MAC[8] = {};

SEC("classifier")
int nlb_pkt_type(struct __sk_buff *skb)
{
	if (skb->pkt_type != PACKET_MULTICAST && skb->pkt_type != PACKET_OTHERHOST)
		return TC_ACT_OK;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return TC_ACT_OK;
	for (int i = 0; i < 6; i++)
		if (eth->h_dest[i] != OWN_MAC[i])
			return TC_ACT_OK;
	bpf_skb_change_type(skb, PACKET_HOST);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
