//! The sandbox image: what a docker task's network namespace is held by
//! (Kubernetes' "pause" container) before the task's own container joins
//! it. No registry is needed: shoal writes the image itself, a tar
//! holding one static program of a few instructions that waits for ever
//! (`pause(2)` on x86-64, `ppoll(2)` with nothing to poll on aarch64),
//! and imports it into the node's engine as `shoal-pause:<version>`.

/// On the sandbox image (its value: the shoal version that made it).
pub const LABEL: &str = "io.shoal.pause";

/// The sandbox image's name in the engine.
pub fn image() -> String {
    format!("shoal-pause:{}", env!("CARGO_PKG_VERSION"))
}

/// The program, a static ELF for this machine (`None`: no program for
/// this architecture).
pub fn program() -> Option<Vec<u8>> {
    const BASE: u64 = 0x40_0000;
    // The ELF header (64 bytes) and one program header (56), then code.
    const CODE_AT: u64 = 64 + 56;
    let (machine, code): (u16, Vec<u8>) = match std::env::consts::ARCH {
        // mov eax, 34 (pause); syscall; jmp back to the mov.
        "x86_64" => (0x3e, vec![0xb8, 0x22, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7]),
        // mov x0..x3, #0; mov x8, #73 (ppoll); svc #0; b back to the first mov.
        "aarch64" => (
            0xb7,
            [0xd280_0000u32, 0xd280_0001, 0xd280_0002, 0xd280_0003, 0xd280_0928, 0xd400_0001, 0x17ff_fffa]
                .iter()
                .flat_map(|i| i.to_le_bytes())
                .collect(),
        ),
        _ => return None,
    };
    let size = CODE_AT + code.len() as u64;
    let mut elf = Vec::with_capacity(size as usize);
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // an executable
    elf.extend_from_slice(&machine.to_le_bytes());
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&(BASE + CODE_AT).to_le_bytes()); // entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // program headers
    elf.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    elf.extend_from_slice(&0u32.to_le_bytes());
    for half in [64u16, 56, 1, 0, 0, 0] {
        elf.extend_from_slice(&half.to_le_bytes());
    }
    elf.extend_from_slice(&1u32.to_le_bytes()); // loaded
    elf.extend_from_slice(&5u32.to_le_bytes()); // read + execute
    for word in [0, BASE, BASE, size, size, 0x1000] {
        elf.extend_from_slice(&word.to_le_bytes());
    }
    elf.extend_from_slice(&code);
    Some(elf)
}

/// A tar (ustar) holding `data` as the executable file `name`: what
/// `docker import` takes.
pub fn tar(name: &str, data: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    let mut put = |at: usize, field: &[u8]| header[at..at + field.len()].copy_from_slice(field);
    put(0, name.as_bytes());
    put(100, b"0000755\0");
    put(108, b"0000000\0");
    put(116, b"0000000\0");
    put(124, format!("{:011o}\0", data.len()).as_bytes());
    put(136, b"00000000000\0");
    put(148, b"        "); // the checksum counts as spaces
    put(156, b"0");
    put(257, b"ustar\0");
    put(263, b"00");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut tar = header.to_vec();
    tar.extend_from_slice(data);
    tar.resize(tar.len().div_ceil(512) * 512 + 1024, 0);
    tar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_is_a_static_elf_of_this_machine() {
        let elf = program().expect("x86_64 or aarch64");
        assert_eq!(&elf[..4], b"\x7fELF");
        let size = u64::from_le_bytes(elf[64 + 32..64 + 40].try_into().unwrap());
        assert_eq!(size, elf.len() as u64, "the segment is the whole file");
        assert!(elf.len() < 160, "a few instructions: {} bytes", elf.len());
    }

    #[test]
    fn tar_reads_the_archive_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pause.tar");
        std::fs::write(&path, tar("pause", b"0123456789")).unwrap();
        let out = std::process::Command::new("tar").arg("-tvf").arg(&path).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let listing = String::from_utf8_lossy(&out.stdout);
        assert!(
            listing.starts_with("-rwxr-xr-x") && listing.contains(" 10 ") && listing.trim_end().ends_with("pause"),
            "{listing}"
        );
    }

    #[test]
    fn the_program_runs_and_waits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pause");
        std::fs::write(&path, program().unwrap()).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let mut child = std::process::Command::new(&path).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(child.try_wait().unwrap().is_none(), "still waiting");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
