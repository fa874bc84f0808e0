//! An array map's values mapped into this process: maps created with
//! `BPF_F_MMAPABLE` are read and written in place, shared with the program, without a
//! system call per element.

use crate::Error;
use aya::maps::MapData;
use rustix::mm::{self, MapFlags, ProtFlags};
use std::os::fd::AsFd;

/// The values of one array map, `len` bytes from `ptr`.
pub(crate) struct Mapped {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping belongs to this value alone; concurrent access from the program is
// what the users of `Mapped` coordinate (plain data, or the connection table's seqlock).
unsafe impl Send for Mapped {}

impl Mapped {
    /// Maps the values of `map`, an array map created with `BPF_F_MMAPABLE`: `entries`
    /// values of type `T`, or an error naming the map when it is laid out otherwise (a
    /// map of another version of the program).
    pub(crate) fn new<T>(map: &MapData, entries: usize) -> Result<Self, Error> {
        // The kernel lays array values out 8 bytes apart at least: with sizes that are
        // multiples of 8 the values are a plain array of T.
        assert!(
            size_of::<T>() % 8 == 0,
            "array values of {} bytes",
            size_of::<T>()
        );
        let info = map.info().map_err(|e| Error::Map(e.to_string()))?;
        if info.value_size() as usize != size_of::<T>() || info.max_entries() as usize != entries {
            return Err(Error::Load(format!(
                "map {} has {} values of {} bytes, this version expects {entries} of {}",
                info.name_as_str().unwrap_or("?"),
                info.max_entries(),
                info.value_size(),
                size_of::<T>()
            )));
        }
        let len = size_of::<T>() * entries;
        // SAFETY: mapping a map fd creates a new shared mapping we own, at an address
        // the kernel picks (no existing memory is replaced); the kernel checks the
        // length against the map's size.
        let ptr = unsafe {
            mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                map.fd().as_fd(),
                0,
            )
        }
        .map_err(|e| {
            Error::Map(format!(
                "mapping map {}: {e}",
                info.name_as_str().unwrap_or("?")
            ))
        })?;
        Ok(Mapped {
            ptr: ptr.cast(),
            len,
        })
    }

    /// The start of the values.
    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping created in `new`, used no more.
        let _ = unsafe { mm::munmap(self.ptr.cast(), self.len) };
    }
}
