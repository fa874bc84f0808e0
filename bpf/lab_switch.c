// SPDX-License-Identifier: (MIT OR Apache-2.0)
// `nlb lab`'s switch: MAC-based IGMP snooping on a Linux bridge.
//
// A Linux bridge snoops IGMP by IP group, so frames to an IGMP-mode cluster MAC
// (01-00-5e-7f-YY-ZZ) that carry a unicast destination IP are not limited to the
// group's members. Switches like the PowerConnect's "bridge multicast group" forward
// them by MAC, to the ports that joined 239.255.Y.Z only. Attached at the egress of
// every bridge port, this program drops frames to a group MAC on ports that are not
// members of that group; `nlb lab` fills MEMBERS from the bridge's MDB. Two groups:
// IGMP's for IPv4 VIPs and MLD's (33-33-ef-ff-YY-ZZ, ff05::efff:YYZZ) for IPv6 ones.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define GROUPS 2

struct switch_config {
	__u8 group_macs[GROUPS][6];
	__u8 pad[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct switch_config);
} SWITCH_CONFIG SEC(".maps");

/* group index << 32 | ifindex of a bridge port whose host joined the group -> 1. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, __u64);
	__type(value, __u8);
} MEMBERS SEC(".maps");

/* 0: group frames forwarded, 1: group frames dropped on a non-member port. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} SWITCH_COUNTERS SEC(".maps");

static __always_inline void count(__u32 i)
{
	__u64 *c = bpf_map_lookup_elem(&SWITCH_COUNTERS, &i);
	if (c)
		*c += 1;
}

SEC("classifier")
int lab_switch_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u32 zero = 0;

	if ((void *)(eth + 1) > end)
		return TC_ACT_OK;
	struct switch_config *cfg = bpf_map_lookup_elem(&SWITCH_CONFIG, &zero);
	if (!cfg)
		return TC_ACT_OK;
	__u64 group = GROUPS;
	for (int g = 0; g < GROUPS; g++) {
		int same = 1;
		for (int i = 0; i < 6; i++)
			if (eth->h_dest[i] != cfg->group_macs[g][i])
				same = 0;
		if (same) {
			group = g;
			break;
		}
	}
	if (group == GROUPS)
		return TC_ACT_OK;
	__u64 key = group << 32 | skb->ifindex;
	if (bpf_map_lookup_elem(&MEMBERS, &key)) {
		count(0);
		return TC_ACT_OK;
	}
	count(1);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
