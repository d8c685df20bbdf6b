//! Which bootstrap zip to deploy, and checking it before it is uploaded.
//!
//! Building the release bootstrap with cargo-lambda takes minutes, so `deploy` reuses the
//! last build while it is newer than every source file that goes into it, and builds
//! only when it is missing or stale. A zip given with `--zip` is taken as is (a pipeline
//! or another machine built it), but checked like ours: the right CPU, and no glibc newer
//! than Amazon Linux 2023's.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::error::PackagingError;
use crate::glibc::{self, ElfNeeds, Machine};
use crate::params::Architecture;

/// The crates whose code is in the bootstrap (its dependency closure inside the workspace).
pub const SOURCE_DIRS: [&str; 4] = ["crates/core", "crates/handlers", "crates/aws", "crates/lambda"];

/// Lambda's limit on the unzipped size of a function's code (250 MB); a bigger entry is
/// refused before it is read into memory.
const MAX_BOOTSTRAP_BYTES: u64 = 250 * 1024 * 1024;

/// The step that yields the zip to deploy.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Step {
    /// `--zip PATH`: take it as given.
    UseGiven(PathBuf),
    /// The last `scripts/package` build, newer than the sources.
    Reuse(PathBuf),
    /// Run `scripts/package` in this checkout, then use its zip.
    Build {
        /// The checkout's root.
        checkout: PathBuf,
        /// Where the build leaves the zip.
        zip: PathBuf,
    },
}

/// Chooses the step. `checkout` is the blankslate checkout, if we run inside one;
/// `built` is the modification time of its last build's zip, if there is one;
/// `newest_source` that of the newest source file.
pub fn choose(
    given: Option<&Path>,
    checkout: Option<&Path>,
    arch: Architecture,
    built: Option<SystemTime>,
    newest_source: Option<SystemTime>,
) -> Result<Step, PackagingError> {
    if let Some(path) = given {
        return Ok(Step::UseGiven(path.to_owned()));
    }
    let checkout = checkout.ok_or(PackagingError::NoCheckout)?;
    let zip = built_zip(checkout, arch);
    match (built, newest_source) {
        (Some(built), Some(source)) if built > source => Ok(Step::Reuse(zip)),
        _ => Ok(Step::Build { checkout: checkout.to_owned(), zip }),
    }
}

/// Where `scripts/package` leaves the zip (it passes `--lambda-dir` to cargo-lambda, so
/// this does not depend on CARGO_TARGET_DIR).
pub fn built_zip(checkout: &Path, arch: Architecture) -> PathBuf {
    let dir = match arch {
        Architecture::X86_64 => checkout.join("target/lambda"),
        Architecture::Arm64 => checkout.join("target/lambda/arm64"),
    };
    dir.join("bootstrap/bootstrap.zip")
}

/// The blankslate checkout containing `start`, if any: the first ancestor holding both
/// `scripts/package` and `crates/lambda/Cargo.toml`.
pub fn find_checkout(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join("scripts/package").is_file() && dir.join("crates/lambda/Cargo.toml").is_file())
        .map(Path::to_owned)
}

/// The newest modification time among the bootstrap's sources: [`SOURCE_DIRS`] (walked),
/// the workspace manifest and the lock file. `None` when none can be read.
pub fn newest_source(checkout: &Path) -> Option<SystemTime> {
    let mut newest = None;
    let mut pending: Vec<PathBuf> = SOURCE_DIRS.iter().map(|d| checkout.join(d)).collect();
    pending.push(checkout.join("Cargo.toml"));
    pending.push(checkout.join("Cargo.lock"));
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
            }
        } else if let Ok(modified) = meta.modified() {
            newest = newest.max(Some(modified));
        }
    }
    newest
}

/// Modification time of a file, if it exists.
pub fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The `bootstrap` entry of a Lambda zip.
pub fn bootstrap_of(zip_path: &Path, zip: &[u8]) -> Result<Vec<u8>, PackagingError> {
    let no_bootstrap = |detail: String| PackagingError::NoBootstrap { zip: zip_path.to_owned(), detail };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(|e| no_bootstrap(e.to_string()))?;
    let entry = archive.by_name("bootstrap").map_err(|e| no_bootstrap(e.to_string()))?;
    if entry.size() > MAX_BOOTSTRAP_BYTES {
        return Err(no_bootstrap(format!("it is {} bytes, over Lambda's 250 MB", entry.size())));
    }
    let mut binary = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
    entry.take(MAX_BOOTSTRAP_BYTES).read_to_end(&mut binary).map_err(|e| no_bootstrap(e.to_string()))?;
    Ok(binary)
}

/// Checks a bootstrap for the stack: the CPU matches `arch` and it needs no glibc newer
/// than Amazon Linux 2023's.
pub fn check_bootstrap(binary: &[u8], arch: Architecture) -> Result<ElfNeeds, PackagingError> {
    let needs = glibc::check(binary, glibc::AL2023_GLIBC)?;
    let matches = matches!(
        (needs.machine, arch),
        (Machine::X86_64, Architecture::X86_64) | (Machine::Aarch64, Architecture::Arm64)
    );
    if !matches {
        let found = match needs.machine {
            Machine::X86_64 => "x86_64".to_owned(),
            Machine::Aarch64 => "arm64 (aarch64)".to_owned(),
            Machine::Other(m) => format!("ELF machine {m}"),
        };
        let advice = match needs.machine {
            Machine::Aarch64 => "pass --arm64 to deploy it",
            Machine::X86_64 => "drop --arm64, or build for arm64 with `bash scripts/package --arm64`",
            Machine::Other(_) => "build it with `bash scripts/package`",
        };
        return Err(PackagingError::WrongArchitecture { found, expected: arch.as_param().to_owned(), advice });
    }
    Ok(needs)
}

/// An S3 key named by the content's SHA-256, so an unchanged artifact keeps its key (no
/// upload, and CloudFormation sees no change), and a changed one always gets a new key
/// (CloudFormation updates the functions' code only when CodeKey changes).
pub fn content_key(prefix: &str, content: &[u8], extension: &str) -> String {
    let digest = Sha256::digest(content);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{hex}.{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_packaging_step_follows_the_flags_and_the_timestamps() {
        let root = Path::new("/src/blankslate");
        let t = |s| Some(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        let zip = PathBuf::from("/src/blankslate/target/lambda/bootstrap/bootstrap.zip");
        let build = Step::Build { checkout: root.to_owned(), zip: zip.clone() };
        type Case<'a> = (Option<&'a Path>, Option<&'a Path>, Option<SystemTime>, Option<SystemTime>, Result<Step, ()>);
        let cases: [Case; 6] = [
            // --zip wins, even outside a checkout and over a fresh build.
            (Some(Path::new("my.zip")), None, None, None, Ok(Step::UseGiven("my.zip".into()))),
            (Some(Path::new("my.zip")), Some(root), t(20), t(10), Ok(Step::UseGiven("my.zip".into()))),
            // A build newer than every source is reused; an older or equal one is rebuilt.
            (None, Some(root), t(20), t(10), Ok(Step::Reuse(zip.clone()))),
            (None, Some(root), t(10), t(10), Ok(build.clone())),
            // No build yet.
            (None, Some(root), None, t(10), Ok(build)),
            // Nothing to build from.
            (None, None, None, None, Err(())),
        ];
        for (given, checkout, built, source, expected) in cases {
            let got = choose(given, checkout, Architecture::X86_64, built, source).map_err(|_| ());
            assert_eq!(got, expected, "given {given:?}, checkout {checkout:?}, built {built:?}, source {source:?}");
        }
        assert_eq!(
            built_zip(root, Architecture::Arm64),
            PathBuf::from("/src/blankslate/target/lambda/arm64/bootstrap/bootstrap.zip")
        );
    }

    #[test]
    fn content_keys_change_with_the_content_only() {
        let a = content_key("blankslate/bootstrap", b"one", "zip");
        assert_eq!(a, content_key("blankslate/bootstrap", b"one", "zip"));
        assert_ne!(a, content_key("blankslate/bootstrap", b"two", "zip"));
        assert!(a.starts_with("blankslate/bootstrap-") && a.ends_with(".zip") && a.len() == 21 + 32 + 4, "{a}");
    }

    #[test]
    fn a_zip_without_a_bootstrap_is_refused() {
        let err = bootstrap_of(Path::new("x.zip"), b"not a zip").expect_err("refused");
        assert!(err.to_string().contains("x.zip") && err.to_string().contains("bootstrap"), "{err}");
    }
}
