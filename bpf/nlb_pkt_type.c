// SPDX-License-Identifier: (MIT OR Apache-2.0)
// At the ingress of a veth cluster interface running nlb's XDP program natively: the
// packet type of frames that program re-addressed to this host.
//
// nlb_xdp.c re-addresses an admitted frame sent to a group MAC (multicast modes) to
// this host's own MAC, because TCP drops whatever the stack received as multicast. A
// NIC driver builds its skb after XDP ran, so the stack classifies the frame by the
// rewritten address. veth in native mode runs XDP on the skb it was handed and keeps
// the packet type its sender computed: the frame reaches IP as PACKET_MULTICAST with a
// unicast destination, and TCP drops it. Such a frame can only be one XDP
// re-addressed; this program makes it PACKET_HOST. nlbd attaches it only there.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("classifier")
int nlb_pkt_type(struct __sk_buff *skb)
{
	if (skb->pkt_type != PACKET_MULTICAST)
		return TC_ACT_OK;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return TC_ACT_OK;
	/* The group bit: a destination without it is one host's. */
	if (!(eth->h_dest[0] & 1))
		bpf_skb_change_type(skb, PACKET_HOST);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
