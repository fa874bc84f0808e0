//! The tc programs nlbd leaves on the cluster interface: loading one, attaching it
//! through netlink so that it outlives the daemon, and removing it (also one a crashed
//! daemon left) by name.

use crate::Error;
use aya::programs::tc::{self, NlOptions, TcAttachOptions};
use aya::programs::{SchedClassifier, TcAttachType};
use aya::{Ebpf, EbpfLoader};

/// One loaded tc program.
pub(crate) struct TcProgram {
    ebpf: Ebpf,
    name: &'static str,
    direction: TcAttachType,
}

impl TcProgram {
    /// Loads program `name` of `object`, for the `direction` of an interface, with
    /// `loader` (set up with the program's read-only data).
    pub(crate) fn load_with(
        object: &[u8],
        name: &'static str,
        direction: TcAttachType,
        loader: &mut EbpfLoader<'_>,
    ) -> Result<Self, Error> {
        let ebpf = loader
            .load(object)
            .map_err(|e| Error::Load(e.to_string()))?;
        let mut p = TcProgram {
            ebpf,
            name,
            direction,
        };
        p.program()?
            .load()
            .map_err(|e| Error::Load(format!("{e:?}")))?;
        Ok(p)
    }

    /// Attaches it to `interface` through netlink, adding the clsact qdisc if needed;
    /// the attachment stays when this process exits. Returns whether the qdisc was
    /// added (and so is for the caller to remove).
    pub(crate) fn attach(&mut self, interface: &str) -> Result<bool, Error> {
        let added = match tc::qdisc_add_clsact(interface) {
            Ok(()) => true,
            Err(tc::TcError::NetlinkError(e))
                if e.raw_os_error() == Some(rustix::io::Errno::EXIST.raw_os_error()) =>
            {
                false
            }
            Err(e) => return Err(Error::Attach(format!("clsact on {interface}: {e}"))),
        };
        let direction = self.direction;
        let prog = self.program()?;
        let id = prog
            .attach_with_options(
                interface,
                direction,
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

    fn program(&mut self) -> Result<&mut SchedClassifier, Error> {
        let name = self.name;
        self.ebpf
            .program_mut(name)
            .ok_or_else(|| Error::Load(format!("{name} missing")))?
            .try_into()
            .map_err(|e| Error::Load(format!("{e:?}")))
    }
}

/// Removes every program called `name` from the egress of `interface` (also one an
/// earlier version left). None there is not an error.
pub fn detach_egress(interface: &str, name: &str) -> Result<(), Error> {
    detach_all(interface, TcAttachType::Egress, name)
}

/// Removes every program called `name` from the `direction` of `interface`. None there
/// is not an error.
pub(crate) fn detach_all(
    interface: &str,
    direction: TcAttachType,
    name: &str,
) -> Result<(), Error> {
    match tc::qdisc_detach_program(interface, direction, name) {
        Ok(()) => Ok(()),
        Err(tc::TcError::IoError(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Attach(format!("{interface}: {e}"))),
    }
}
