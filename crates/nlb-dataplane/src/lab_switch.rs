//! The lab switch's MAC-based snooping (`bpf/lab_switch.c`): a tc egress program on
//! every bridge port that lets frames to an IGMP-mode group MAC (IGMP's for IPv4, MLD's
//! for IPv6) out only on ports whose hosts joined that group. `nlb lab` keeps the member set equal to the bridge's
//! MDB. The attachments live as long as this value.

use crate::{map_err, Error};
use aya::maps::{HashMap, MapData, PerCpuArray};
use aya::programs::{SchedClassifier, TcAttachType};
use aya::{Ebpf, Pod};
use nlb_core::mac::MacAddr;

/// The compiled program.
pub static LAB_SWITCH_OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lab_switch.o"));

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct SwitchConfig {
    group_macs: [[u8; 6]; GROUPS],
    pad: [u8; 4],
}

/// How many groups the program filters (`GROUPS` in `bpf/lab_switch.c`).
pub const GROUPS: usize = 2;
// SAFETY: plain old data, layout fixed by repr(C).
unsafe impl Pod for SwitchConfig {}

/// The loaded program and its maps.
pub struct LabSwitch {
    ebpf: Ebpf,
}

impl LabSwitch {
    /// Loads the program filtering frames to `group_macs` (at most [`GROUPS`]; group
    /// `g` of [`LabSwitch::set_members`] is `group_macs[g]`).
    pub fn load(group_macs: &[MacAddr]) -> Result<Self, Error> {
        if group_macs.len() > GROUPS {
            return Err(Error::Unsupported(format!(
                "{} groups; the lab switch filters {GROUPS}",
                group_macs.len()
            )));
        }
        // Unused groups stay all zeros: no frame is sent to that MAC.
        let mut macs = [[0u8; 6]; GROUPS];
        for (slot, mac) in macs.iter_mut().zip(group_macs) {
            *slot = mac.0;
        }
        let mut ebpf = Ebpf::load(LAB_SWITCH_OBJECT).map_err(|e| Error::Load(e.to_string()))?;
        let prog: &mut SchedClassifier = ebpf
            .program_mut("lab_switch_egress")
            .ok_or_else(|| Error::Load("lab_switch_egress missing".into()))?
            .try_into()
            .map_err(|e| Error::Load(format!("{e:?}")))?;
        prog.load().map_err(|e| Error::Load(format!("{e:?}")))?;
        let mut config: aya::maps::Array<&mut MapData, SwitchConfig> =
            aya::maps::Array::try_from(ebpf.map_mut("SWITCH_CONFIG").expect("SWITCH_CONFIG"))
                .map_err(map_err)?;
        config
            .set(
                0,
                SwitchConfig {
                    group_macs: macs,
                    pad: [0; 4],
                },
                0,
            )
            .map_err(map_err)?;
        Ok(LabSwitch { ebpf })
    }

    /// Attaches it to the egress of a bridge port (in this network namespace).
    pub fn attach(&mut self, port: &str) -> Result<(), Error> {
        let prog: &mut SchedClassifier = self
            .ebpf
            .program_mut("lab_switch_egress")
            .expect("loaded")
            .try_into()
            .map_err(|e| Error::Load(format!("{e:?}")))?;
        prog.attach(port, TcAttachType::Egress)
            .map_err(|e| Error::Attach(format!("{port}: {e:?}")))?;
        Ok(())
    }

    /// Makes the member ports of group `group` exactly `ifindexes`.
    pub fn set_members(&mut self, group: usize, ifindexes: &[u32]) -> Result<(), Error> {
        let key = |i: u32| (group as u64) << 32 | u64::from(i);
        let wanted: Vec<u64> = ifindexes.iter().map(|&i| key(i)).collect();
        let mut map: HashMap<&mut MapData, u64, u8> =
            HashMap::try_from(self.ebpf.map_mut("MEMBERS").expect("MEMBERS")).map_err(map_err)?;
        let old: Vec<u64> = map
            .keys()
            .filter_map(Result::ok)
            .filter(|k| k >> 32 == group as u64)
            .collect();
        for k in old.iter().filter(|k| !wanted.contains(k)) {
            map.remove(k).map_err(map_err)?;
        }
        for k in wanted.iter().filter(|k| !old.contains(k)) {
            map.insert(k, 1, 0).map_err(map_err)?;
        }
        Ok(())
    }

    /// Group frames forwarded to members and dropped at non-members, summed over CPUs.
    pub fn counters(&self) -> Result<(u64, u64), Error> {
        let map: PerCpuArray<&MapData, u64> =
            PerCpuArray::try_from(self.ebpf.map("SWITCH_COUNTERS").expect("SWITCH_COUNTERS"))
                .map_err(map_err)?;
        let sum =
            |i: u32| -> Result<u64, Error> { Ok(map.get(&i, 0).map_err(map_err)?.iter().sum()) };
        Ok((sum(0)?, sum(1)?))
    }
}
