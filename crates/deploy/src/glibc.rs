//! The glibc a Linux binary needs, read from its ELF version-needs section.
//!
//! `provided.al2023` runs the bootstrap on Amazon Linux 2023, whose glibc is 2.34. A
//! bootstrap linked against a newer glibc (built on a newer distribution without
//! cargo-lambda's zig linker) starts, fails to load with "version `GLIBC_2.xx' not
//! found", and every invocation errors: we refuse to upload it instead. The dynamic
//! loader decides from the `.gnu.version_r` section (SHT_GNU_verneed), so that is what is
//! read here, in Rust, so the check needs no binutils on the deploying machine.

use std::fmt;

use crate::error::PackagingError;

/// Amazon Linux 2023's glibc, the newest a `provided.al2023` bootstrap may need.
pub const AL2023_GLIBC: GlibcVersion = GlibcVersion { major: 2, minor: 34, patch: 0 };

/// A glibc symbol version such as `GLIBC_2.2.5`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct GlibcVersion {
    /// 2, in practice.
    pub major: u32,
    /// The number that grows with releases.
    pub minor: u32,
    /// Only some old versions have one (`GLIBC_2.2.5`); 0 otherwise.
    pub patch: u32,
}

impl GlibcVersion {
    /// Parses a version-need name; `None` for names that are not numbered glibc
    /// versions (`GLIBC_PRIVATE`, `GCC_3.0`, `GLIBC_ABI_DT_RELR`).
    pub fn from_need(name: &str) -> Option<Self> {
        let mut parts = name.strip_prefix("GLIBC_")?.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = match parts.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Self { major, minor, patch })
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patch == 0 {
            write!(f, "{}.{}", self.major, self.minor)
        } else {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

/// The CPU an ELF binary is for, as far as Lambda cares.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Machine {
    /// EM_X86_64 (62): Lambda's `x86_64`.
    X86_64,
    /// EM_AARCH64 (183): Lambda's `arm64`.
    Aarch64,
    /// Anything else (the `e_machine` value): Lambda cannot run it.
    Other(u16),
}

/// What the loader needs to run a binary.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ElfNeeds {
    /// The CPU.
    pub machine: Machine,
    /// The newest glibc version any symbol needs; `None` for a static (or musl) binary.
    pub glibc: Option<GlibcVersion>,
}

const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;
/// Bounds the walk over a malformed section (a real binary has a few dozen entries).
const MAX_ENTRIES: usize = 10_000;

/// Reads the machine and the newest numbered `GLIBC_*` version need of a 64-bit
/// little-endian ELF file (the only kind Lambda runs). Never panics on malformed input.
pub fn elf_needs(elf: &[u8]) -> Result<ElfNeeds, PackagingError> {
    let malformed = |what: &str| PackagingError::NotElf { detail: what.to_owned() };
    if elf.get(0..4) != Some(b"\x7fELF".as_slice()) {
        return Err(malformed("no ELF magic number"));
    }
    if elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        return Err(malformed("not a 64-bit little-endian ELF file"));
    }
    let machine = match u16_at(elf, 18, 0).ok_or_else(|| malformed("truncated header"))? {
        62 => Machine::X86_64,
        183 => Machine::Aarch64,
        other => Machine::Other(other),
    };
    let shoff = u64_at(elf, 0x28, 0).ok_or_else(|| malformed("truncated header"))?;
    let shentsize = u16_at(elf, 0x3a, 0).ok_or_else(|| malformed("truncated header"))? as usize;
    let shnum = u16_at(elf, 0x3c, 0).ok_or_else(|| malformed("truncated header"))? as usize;
    let section = |index: usize| -> Option<(u32, usize, usize, u32, u32)> {
        let base = usize::try_from(shoff).ok()?.checked_add(index.checked_mul(shentsize)?)?;
        let kind = u32_at(elf, base, 4)?;
        let offset = usize::try_from(u64_at(elf, base, 24)?).ok()?;
        let size = usize::try_from(u64_at(elf, base, 32)?).ok()?;
        let link = u32_at(elf, base, 40)?;
        let info = u32_at(elf, base, 44)?;
        Some((kind, offset, size, link, info))
    };
    let mut glibc = None;
    for index in 0..shnum {
        let (kind, offset, _, link, count) = section(index).ok_or_else(|| malformed("truncated section headers"))?;
        if kind != SHT_GNU_VERNEED {
            continue;
        }
        let (_, strtab, strsize, _, _) =
            section(link as usize).ok_or_else(|| malformed("version needs name a missing string table"))?;
        let name_at = |at: u32| -> Option<&str> {
            let start = strtab.checked_add(at as usize)?;
            let bytes = elf.get(start..strtab.checked_add(strsize)?)?;
            let end = bytes.iter().position(|b| *b == 0)?;
            std::str::from_utf8(&bytes[..end]).ok()
        };
        let mut need = offset;
        for _ in 0..(count as usize).min(MAX_ENTRIES) {
            let bad = || malformed("truncated version needs");
            let aux_count = u16_at(elf, need, 2).ok_or_else(bad)?;
            let mut aux = need.checked_add(u32_at(elf, need, 8).ok_or_else(bad)? as usize).ok_or_else(bad)?;
            for _ in 0..(aux_count as usize).min(MAX_ENTRIES) {
                let name = u32_at(elf, aux, 8).ok_or_else(bad)?;
                if let Some(version) = name_at(name).and_then(GlibcVersion::from_need) {
                    glibc = glibc.max(Some(version));
                }
                let next = u32_at(elf, aux, 12).ok_or_else(bad)? as usize;
                if next == 0 {
                    break;
                }
                aux = aux.checked_add(next).ok_or_else(bad)?;
            }
            let next = u32_at(elf, need, 12).ok_or_else(bad)? as usize;
            if next == 0 {
                break;
            }
            need = need.checked_add(next).ok_or_else(bad)?;
        }
    }
    Ok(ElfNeeds { machine, glibc })
}

/// Fails when the binary needs a glibc newer than `newest` (use [`AL2023_GLIBC`]).
pub fn check(elf: &[u8], newest: GlibcVersion) -> Result<ElfNeeds, PackagingError> {
    let needs = elf_needs(elf)?;
    match needs.glibc {
        Some(needed) if needed > newest => Err(PackagingError::GlibcTooNew { needed, newest }),
        _ => Ok(needs),
    }
}

/// The `N` bytes at `base + offset`, if the file has them (offsets come from the file,
/// so every sum is checked).
fn bytes_at<const N: usize>(b: &[u8], base: usize, offset: usize) -> Option<[u8; N]> {
    let at = base.checked_add(offset)?;
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn u16_at(b: &[u8], base: usize, offset: usize) -> Option<u16> {
    bytes_at(b, base, offset).map(u16::from_le_bytes)
}

fn u32_at(b: &[u8], base: usize, offset: usize) -> Option<u32> {
    bytes_at(b, base, offset).map(u32::from_le_bytes)
}

fn u64_at(b: &[u8], base: usize, offset: usize) -> Option<u64> {
    bytes_at(b, base, offset).map(u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_needs_parse_and_order_numerically() {
        let v = |s| GlibcVersion::from_need(s);
        assert_eq!(v("GLIBC_2.2.5"), Some(GlibcVersion { major: 2, minor: 2, patch: 5 }));
        assert_eq!(v("GLIBC_2.34"), Some(AL2023_GLIBC));
        assert!(v("GLIBC_2.34") > v("GLIBC_2.4"), "2.34 is newer than 2.4, not older");
        assert!(v("GLIBC_2.35") > v("GLIBC_2.34"));
        for not_a_version in ["GLIBC_PRIVATE", "GCC_3.0", "GLIBC_ABI_DT_RELR", "GLIBC_2", "GLIBC_2.3.4.5", ""] {
            assert_eq!(v(not_a_version), None, "{not_a_version}");
        }
        assert_eq!(AL2023_GLIBC.to_string(), "2.34");
    }

    #[test]
    fn what_is_not_a_64_bit_elf_is_refused_without_panicking() {
        for input in [&b""[..], b"PK\x03\x04", b"\x7fELF", b"\x7fELF\x01\x01", b"\x7fELF\x02\x01\x01\x00"] {
            assert!(matches!(elf_needs(input), Err(PackagingError::NotElf { .. })), "{input:?}");
        }
        // A header whose section table points far outside the file.
        let mut header = vec![0u8; 64];
        header[..6].copy_from_slice(b"\x7fELF\x02\x01");
        header[18] = 62;
        header[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
        header[0x3a] = 64;
        header[0x3c] = 3;
        assert!(matches!(elf_needs(&header), Err(PackagingError::NotElf { .. })));
    }
}
