//! Open vSwitch, as a shell script of `ovs-vsctl` commands (the router side is a
//! Linux router's static neighbour entry, from `linux_bridge`).
//!
//! Sources:
//! - ovs-vsctl(8), "Multicast snooping" example, and ovs-vswitchd.conf.db(5) (the
//!   `Bridge` table's `mcast_snooping_enable` column and
//!   `other_config:mcast-snooping-disable-flood-unregistered`; the `Port` table's
//!   `other_config:mcast-snooping-flood`: "multicast packets (except Reports) are
//!   unconditionally forwarded to the specific port").
//!   <https://www.openvswitch.org/support/dist-docs/ovs-vsctl.8.txt>
//!   <https://www.openvswitch.org/support/dist-docs/ovs-vswitchd.conf.db.5.txt>
//! - Open vSwitch's NORMAL action looks an IP frame to a multicast MAC up by its
//!   destination IP (`ofproto/ofproto-dpif-xlate.c`, `xlate_normal`): the VIP is a
//!   unicast IP, so the cluster's frames are "unregistered" multicast, flooded unless
//!   flooding unregistered multicast is disabled, and then sent to multicast router
//!   ports and flood ports only.
//!
//! Open vSwitch has no IGMP/MLD querier of its own.

use super::{Out, Request};

pub(super) fn restrict(req: &Request, out: &mut Out) {
    let br = req.bridge();
    out.note(format!(
        "Open vSwitch snoops by IP group: the cluster's frames (to {}, destination IP the \
         unicast VIP) match no group the hosts joined. Once flooding of unregistered multicast \
         is off, they go to multicast router ports and to ports marked mcast-snooping-flood \
         only: mark the hosts' ports.",
        req.cluster.cluster_mac().colon()
    ));
    out.cmd(
        format!("ovs-vsctl set Bridge {br} mcast_snooping_enable=true"),
        "Multicast (IGMP and MLD) snooping on the bridge.",
    );
    out.cmd(
        format!(
            "ovs-vsctl set Bridge {br} other_config:mcast-snooping-disable-flood-unregistered=true"
        ),
        "Stop flooding multicast of no learned group (which includes every frame to the \
         VIP) to every port: send it to router ports and flood ports only.",
    );
    for port in req.ports() {
        out.cmd(
            format!("ovs-vsctl set Port {port} other_config:mcast-snooping-flood=true"),
            format!(
                "{port} is a host's port: it receives all multicast but reports, the VIP's \
                 frames among them. A migrated VM's new port needs this set again."
            ),
        );
    }
    out.note(
        "Open vSwitch sends no queries: if the VLAN has no querier, the hosts' memberships \
         are not refreshed (this does not affect the VIP's frames, which follow the flood \
         ports).",
    );
}
