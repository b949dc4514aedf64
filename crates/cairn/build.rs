//! Link options of the `cairn` binary.
//!
//! Relative relocations are packed (`-z pack-relative-relocs`, DT_RELR) on Linux with glibc:
//! the binary is position-independent, and its ~240,000 relative relocations took 5.7 MB as
//! `.rela.dyn`, all of it read by the dynamic loader at start and left resident for the life
//! of the process (more than a third of an idle agent's RSS). Packed, they take a few
//! hundred KB. Needs glibc 2.36 or later at run time; the binary keeps its ASLR (still PIE).

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
