//! The glibc check on real binaries: the debug bootstrap (built by `cargo test
//! --workspace`, as `bash scripts/test` runs it) and this test's own executable.

use std::path::PathBuf;

use blankslate_deploy::glibc::{self, GlibcVersion, Machine, AL2023_GLIBC};
use blankslate_deploy::packaging::check_bootstrap;
use blankslate_deploy::{Architecture, PackagingError};

/// target/debug/bootstrap, beside target/debug/deps where this test runs from.
fn debug_bootstrap() -> Vec<u8> {
    let exe = std::env::current_exe().expect("the test knows its path");
    let path: PathBuf = exe.parent().and_then(|deps| deps.parent()).expect("target/debug").join("bootstrap");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. The debug bootstrap is built by `cargo test --workspace` (bash scripts/test); alone, build it \
             first with `cargo build -p blankslate-lambda --bin bootstrap`",
            path.display()
        )
    })
}

/// The newest GLIBC_ version readelf reports, to cross-check our parser.
fn readelf_newest(binary: &[u8]) -> Option<GlibcVersion> {
    let dir = std::env::var_os("CARGO_TARGET_TMPDIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let path = dir.join(format!("glibc-check-{}", std::process::id()));
    std::fs::write(&path, binary).ok()?;
    let out = std::process::Command::new("readelf").args(["-V", "--wide"]).arg(&path).output().ok();
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8_lossy(&out?.stdout).into_owned();
    text.split(|c: char| c.is_whitespace()).filter_map(GlibcVersion::from_need).max()
}

#[test]
fn the_debug_bootstrap_needs_no_glibc_newer_than_amazon_linux_2023() {
    let binary = debug_bootstrap();
    let needs = glibc::check(&binary, AL2023_GLIBC).expect("the bootstrap runs on provided.al2023");
    let needed = needs.glibc.expect("a glibc-linked bootstrap has version needs");
    assert!(needed <= AL2023_GLIBC, "{needed}");
    if cfg!(target_arch = "x86_64") {
        assert_eq!(needs.machine, Machine::X86_64);
        check_bootstrap(&binary, Architecture::X86_64).expect("deployable as x86_64");
        let err = check_bootstrap(&binary, Architecture::Arm64).expect_err("not an arm64 binary");
        assert!(matches!(err, PackagingError::WrongArchitecture { .. }), "{err}");
        assert!(err.to_string().contains("--arm64"), "{err}");
    }
    // Same answer as binutils, where it is installed.
    if let Some(theirs) = readelf_newest(&binary) {
        assert_eq!(Some(theirs), needs.glibc, "readelf disagrees");
    }
}

#[test]
fn a_binary_needing_a_newer_glibc_is_refused() {
    // A real executable whose version needs are rewritten in place to name GLIBC_2.99:
    // what the loader would read from a bootstrap linked on a too-new distribution.
    let mut binary = std::fs::read(std::env::current_exe().expect("own path")).expect("own binary");
    let needs = glibc::elf_needs(&binary).expect("an ELF file");
    let newest = needs.glibc.expect("glibc-linked").to_string();
    let (from, to) = (format!("GLIBC_{newest}\0"), format!("GLIBC_2.99{}\0", "\0".repeat(newest.len() - 4)));
    assert_eq!(from.len(), to.len(), "same-length rewrite of {from:?}");
    let mut rewritten = 0;
    let mut at = 0;
    while let Some(offset) = binary[at..].windows(from.len()).position(|w| w == from.as_bytes()) {
        let start = at + offset;
        binary[start..start + to.len()].copy_from_slice(to.as_bytes());
        rewritten += 1;
        at = start + to.len();
    }
    assert!(rewritten > 0, "GLIBC_{newest} not found as a string");
    match glibc::check(&binary, AL2023_GLIBC) {
        Err(PackagingError::GlibcTooNew { needed, newest }) => {
            assert_eq!(needed, GlibcVersion { major: 2, minor: 99, patch: 0 });
            assert_eq!(newest, AL2023_GLIBC);
        }
        other => panic!("accepted a bootstrap needing glibc 2.99: {other:?}"),
    }
    let message = glibc::check(&binary, AL2023_GLIBC).expect_err("refused").to_string();
    assert!(message.contains("2.99") && message.contains("2.34") && message.contains("scripts/package"), "{message}");
}
