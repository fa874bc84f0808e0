//! `nlb lab nic-team`: a NIC team that sends some flows with a second source MAC
//! (`bpf/lab_team.c`), attached at the egress of a lab host's interface, for `nlb
//! doctor` to find.

use crate::tc::{self, TcProgram};
use crate::Error;
use aya::programs::TcAttachType;
use aya::EbpfLoader;
use nlb_core::mac::MacAddr;

/// The compiled program.
pub static LAB_TEAM_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lab_team.o"));
/// The program's name.
pub const LAB_TEAM_PROGRAM: &str = "lab_team";

/// The loaded program.
pub struct NicTeam {
    program: TcProgram,
}

impl NicTeam {
    /// Loads it with the second NIC's MAC.
    pub fn load(second: MacAddr) -> Result<Self, Error> {
        let mut mac = [0u8; 8];
        mac[..6].copy_from_slice(&second.0);
        Ok(NicTeam {
            program: TcProgram::load_with(
                LAB_TEAM_OBJECT,
                LAB_TEAM_PROGRAM,
                TcAttachType::Egress,
                EbpfLoader::new().override_global("SECOND_MAC", &mac, true),
            )?,
        })
    }

    /// Attaches it at the egress of `interface` (it stays after this process exits).
    pub fn attach(&mut self, interface: &str) -> Result<(), Error> {
        self.program.attach(interface).map(drop)
    }

    /// Removes it from `interface`.
    pub fn detach(interface: &str) -> Result<(), Error> {
        tc::detach_egress(interface, LAB_TEAM_PROGRAM)
    }
}
