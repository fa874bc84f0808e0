//! The packet type fix (`bpf/nlb_pkt_type.c`) for a veth cluster interface running the
//! data path natively: frames the XDP program re-addressed from a group MAC to this
//! host keep veth's PACKET_MULTICAST, which TCP drops; at the interface's ingress this
//! tc program makes them PACKET_HOST, as a NIC driver's fresh skb would be.

use crate::tc::{self, TcProgram};
use crate::Error;
use aya::programs::TcAttachType;
use aya::EbpfLoader;
use nlb_core::mac::MacAddr;

/// The compiled program.
pub static PKT_TYPE_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/nlb_pkt_type.o"));
/// The program's name, by which leftovers are found and removed.
pub const PKT_TYPE_PROGRAM: &str = "nlb_pkt_type";

/// The loaded program.
pub struct PacketTypeFix {
    program: TcProgram,
}

impl PacketTypeFix {
    /// Loads it for a host whose own MAC is `own`.
    pub fn load(own: MacAddr) -> Result<Self, Error> {
        let mut mac = [0u8; 8];
        mac[..6].copy_from_slice(&own.0);
        Ok(PacketTypeFix {
            program: TcProgram::load_with(
                PKT_TYPE_OBJECT,
                PKT_TYPE_PROGRAM,
                TcAttachType::Ingress,
                EbpfLoader::new().override_global("OWN_MAC", &mac, true),
            )?,
        })
    }

    /// Attaches it at the ingress of `interface` through netlink (it outlives this
    /// process, as the XDP program does). Returns whether the clsact qdisc was added.
    pub fn attach(&mut self, interface: &str) -> Result<bool, Error> {
        self.program.attach(interface)
    }

    /// Removes every such program from the ingress of `interface`. None is not an error.
    pub fn detach_all(interface: &str) -> Result<(), Error> {
        tc::detach_all(interface, TcAttachType::Ingress, PKT_TYPE_PROGRAM)
    }
}
