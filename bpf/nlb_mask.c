// SPDX-License-Identifier: (MIT OR Apache-2.0)
// Unicast mode's source MAC masking, at the egress of the cluster interface.
//
// In unicast mode every host's NIC carries the cluster MAC (02-bf-W-X-Y-Z). If frames
// left with it as their source, the switch would learn it on one port and send the
// whole cluster's traffic there. As Windows NLB does, each host rewrites the source of
// its outgoing frames to 02-<host id>-W-X-Y-Z, so the switch never learns the cluster
// MAC and floods frames to it to every port. Attached through netlink, the program
// outlives nlbd: a crashed daemon must not unmask the host.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct mask_config {
	__u8 cluster_mac[6];
	__u8 masked_mac[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mask_config);
} MASK_CONFIG SEC(".maps");

SEC("classifier")
int nlb_mask(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u32 zero = 0;

	if ((void *)(eth + 1) > end)
		return TC_ACT_OK;
	struct mask_config *cfg = bpf_map_lookup_elem(&MASK_CONFIG, &zero);
	if (!cfg)
		return TC_ACT_OK;
	for (int i = 0; i < 6; i++)
		if (eth->h_source[i] != cfg->cluster_mac[i])
			return TC_ACT_OK;
	__builtin_memcpy(eth->h_source, cfg->masked_mac, 6);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
