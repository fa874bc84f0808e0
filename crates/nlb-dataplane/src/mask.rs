//! Unicast mode's source MAC masking (`bpf/nlb_mask.c`): a tc program at the egress
//! of the cluster interface that rewrites the cluster MAC as source to the host's
//! masked MAC `02-<host id>-W-X-Y-Z`. Attached through netlink so that it outlives
//! nlbd: a crashed daemon must not let the switch learn the cluster MAC.

use crate::tc::{self, TcProgram};
use crate::{map_err, Error, RunResult};
use aya::maps::{Array, MapData};
use aya::programs::TcAttachType;
use aya::Pod;
use nlb_core::mac::MacAddr;

/// The compiled program.
pub static MASK_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/nlb_mask.o"));
/// The program's name, by which leftovers are found and removed.
pub const MASK_PROGRAM: &str = "nlb_mask";

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct MaskConfig {
    cluster_mac: [u8; 6],
    masked_mac: [u8; 6],
}
// SAFETY: plain old data, layout fixed by repr(C).
unsafe impl Pod for MaskConfig {}

/// The loaded masking program.
pub struct SourceMask {
    program: TcProgram,
}

impl SourceMask {
    /// Loads the program rewriting source `cluster` to `masked`.
    pub fn load(cluster: MacAddr, masked: MacAddr) -> Result<Self, Error> {
        let mut program = TcProgram::load(MASK_OBJECT, MASK_PROGRAM, TcAttachType::Egress)?;
        let mut config: Array<&mut MapData, MaskConfig> =
            Array::try_from(program.ebpf.map_mut("MASK_CONFIG").expect("MASK_CONFIG"))
                .map_err(map_err)?;
        config
            .set(
                0,
                MaskConfig {
                    cluster_mac: cluster.0,
                    masked_mac: masked.0,
                },
                0,
            )
            .map_err(map_err)?;
        Ok(SourceMask { program })
    }

    /// Attaches it at the egress of `interface` through netlink, adding the clsact
    /// qdisc if needed; the attachment stays when this process exits. Returns whether
    /// the qdisc was added (and so is for the caller to remove).
    pub fn attach(&mut self, interface: &str) -> Result<bool, Error> {
        self.program.attach(interface)
    }

    /// Removes every masking program from the egress of `interface` (also one a
    /// crashed nlbd left). None there is not an error.
    pub fn detach_all(interface: &str) -> Result<(), Error> {
        tc::detach_all(interface, TcAttachType::Egress, MASK_PROGRAM)
    }

    /// Runs the program on one frame with BPF_PROG_RUN.
    pub fn test_run(&mut self, frame: &[u8]) -> Result<RunResult, Error> {
        self.program.test_run(frame)
    }
}
