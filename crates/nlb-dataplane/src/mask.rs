//! Unicast mode's source MAC masking (`bpf/nlb_mask.c`): a tc program at the egress
//! of the cluster interface that rewrites the cluster MAC as source to the host's
//! masked MAC `02-<host id>-W-X-Y-Z`. Attached through netlink so that it outlives
//! nlbd: a crashed daemon must not let the switch learn the cluster MAC.

use crate::{map_err, Error, RunResult};
use aya::maps::{Array, MapData};
use aya::programs::tc::{self, NlOptions, TcAttachOptions};
use aya::programs::{SchedClassifier, TcAttachType};
use aya::{Ebpf, Pod};
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
    ebpf: Ebpf,
}

impl SourceMask {
    /// Loads the program rewriting source `cluster` to `masked`.
    pub fn load(cluster: MacAddr, masked: MacAddr) -> Result<Self, Error> {
        let mut ebpf = Ebpf::load(MASK_OBJECT).map_err(|e| Error::Load(e.to_string()))?;
        program(&mut ebpf)?
            .load()
            .map_err(|e| Error::Load(format!("{e:?}")))?;
        let mut config: Array<&mut MapData, MaskConfig> =
            Array::try_from(ebpf.map_mut("MASK_CONFIG").expect("MASK_CONFIG")).map_err(map_err)?;
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
        Ok(SourceMask { ebpf })
    }

    /// Attaches it at the egress of `interface` through netlink, adding the clsact
    /// qdisc if needed; the attachment stays when this process exits. Returns whether
    /// the qdisc was added (and so is for the caller to remove).
    pub fn attach(&mut self, interface: &str) -> Result<bool, Error> {
        let added = match tc::qdisc_add_clsact(interface) {
            Ok(()) => true,
            Err(tc::TcError::NetlinkError(e)) if e.raw_os_error() == Some(libc::EEXIST) => false,
            Err(e) => return Err(Error::Attach(format!("clsact on {interface}: {e}"))),
        };
        let prog = program(&mut self.ebpf)?;
        let id = prog
            .attach_with_options(
                interface,
                TcAttachType::Egress,
                TcAttachOptions::Netlink(NlOptions::default()),
            )
            .map_err(|e| Error::Attach(format!("{interface}: {e:?}")))?;
        // Owning the link would detach the program when it drops: let it go.
        let link = prog
            .take_link(id)
            .map_err(|e| Error::Attach(e.to_string()))?;
        std::mem::forget(link);
        Ok(added)
    }

    /// Removes every masking program from the egress of `interface` (also one a
    /// crashed nlbd left). None there is not an error.
    pub fn detach_all(interface: &str) -> Result<(), Error> {
        match tc::qdisc_detach_program(interface, TcAttachType::Egress, MASK_PROGRAM) {
            Ok(()) => Ok(()),
            Err(tc::TcError::IoError(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Attach(format!("{interface}: {e}"))),
        }
    }

    /// Runs the program on one frame with BPF_PROG_RUN.
    pub fn test_run(&mut self, frame: &[u8]) -> Result<RunResult, Error> {
        crate::test_run(program(&mut self.ebpf)?, frame, 1)
    }
}

fn program(ebpf: &mut Ebpf) -> Result<&mut SchedClassifier, Error> {
    ebpf.program_mut(MASK_PROGRAM)
        .ok_or_else(|| Error::Load(format!("{MASK_PROGRAM} missing")))?
        .try_into()
        .map_err(|e| Error::Load(format!("{e:?}")))
}
