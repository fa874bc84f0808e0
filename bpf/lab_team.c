// SPDX-License-Identifier: (MIT OR Apache-2.0)
// `nlb lab nic-team`: a hypervisor NIC team in switch-independent mode with dynamic load
// balancing, as the field reports describe it: some flows leave by the second NIC, with
// its source MAC. At the egress of a lab host's interface, frames of TCP and UDP flows
// whose destination port has bit 1 set get SECOND_MAC as their source MAC (not bit 0:
// Linux gives connect() even ports first).

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* The second NIC's MAC (6 bytes), set at load. */
const volatile __u8 SECOND_MAC[8] = {};

SEC("classifier")
int lab_team(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return TC_ACT_OK;
	__u8 *l4 = (void *)ip + ip->ihl * 4;
	if ((void *)(l4 + 4) > end)
		return TC_ACT_OK;
	/* Half of the flows, by flow. */
	if (!(l4[3] & 2))
		return TC_ACT_OK;
	__u8 mac[6];
	for (int i = 0; i < 6; i++)
		mac[i] = SECOND_MAC[i];
	bpf_skb_store_bytes(skb, 6, mac, 6, 0);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
