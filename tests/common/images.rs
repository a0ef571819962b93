//! Docker images that tests and benches make themselves (no registry is
//! reachable): a root filesystem of Debian's busybox-static with the
//! applets asked for, `docker import`ed under a name unique to the run
//! and a label; dropped, the guard removes every container carrying the
//! label and the image, also when a test fails.

use std::process::Command;

/// Runs `docker ARGS`; its stdout, or a panic naming the failure.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A busybox image of this run; removed with its containers when dropped.
pub struct BusyboxImage {
    /// `KEY=VALUE` on the image; give it to every container made from it.
    pub label: String,
    /// `NAME:TAG`, unique to this run.
    pub name: String,
}

impl BusyboxImage {
    /// Imports busybox with `applets` (`sleep`, `sh`, `httpd`...) linked
    /// in `/bin`; `purpose` goes into the label and the name.
    pub fn import(purpose: &str, applets: &[&str]) -> BusyboxImage {
        BusyboxImage::import_with(purpose, applets, &[])
    }

    /// [`BusyboxImage::import`] with Dockerfile instructions applied
    /// (`docker import --change`: `HEALTHCHECK ...`, `STOPSIGNAL ...`).
    pub fn import_with(purpose: &str, applets: &[&str], changes: &[&str]) -> BusyboxImage {
        let token = rand::random::<u32>();
        let name = format!("shoal-test-{purpose}-busybox:{token}");
        BusyboxImage::build(&name, &format!("shoal-test-{purpose}={token}"), applets, changes, &[])
    }

    /// A stand-in for an image a stack file names (`redis`,
    /// `user/app:tag`), tagged so; `files` are `(path, content)` made
    /// executable. Refuses a name the engine already has (it is not the
    /// test's to replace).
    pub fn stand_in(name: &str, applets: &[&str], changes: &[&str], files: &[(&str, &str)]) -> BusyboxImage {
        let exists = Command::new("docker").args(["image", "inspect", name]).output().unwrap();
        assert!(!exists.status.success(), "image {name} exists on this machine: not replacing it");
        let label = format!("shoal-test-stand-in={}", rand::random::<u32>());
        BusyboxImage::build(name, &label, applets, changes, files)
    }

    fn build(name: &str, label: &str, applets: &[&str], changes: &[&str], files: &[(&str, &str)]) -> BusyboxImage {
        let image = BusyboxImage { label: label.to_string(), name: name.to_string() };
        let dir = tempfile::tempdir().unwrap();
        let tar = BusyboxImage::rootfs(dir.path(), applets, files);
        let label = format!("LABEL {}", image.label);
        let mut args = vec!["import", "--change", &label];
        for change in changes {
            args.extend(["--change", change]);
        }
        args.extend([tar.to_str().unwrap(), &image.name]);
        docker(&args);
        image
    }

    /// Writes a root filesystem of busybox with `applets` and `files`
    /// under `dir` and makes it `dir/rootfs.tar`; returns that path.
    pub fn rootfs(dir: &std::path::Path, applets: &[&str], files: &[(&str, &str)]) -> std::path::PathBuf {
        let root = dir.join("root");
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/bin/busybox", bin.join("busybox")).expect("busybox-static installed (/bin/busybox)");
        for applet in applets {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        for (path, content) in files {
            let path = root.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }
        let tar = dir.join("rootfs.tar");
        let ok = Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".").status().unwrap();
        assert!(ok.success(), "tar");
        tar
    }

    /// The ids of the containers carrying this image's label.
    pub fn containers(&self, all: bool) -> Vec<String> {
        let filter = format!("label={}", self.label);
        let mut args = vec!["ps", "-q", "--no-trunc", "--filter", &filter];
        if all {
            args.push("-a");
        }
        docker(&args).lines().map(String::from).collect()
    }
}

impl Drop for BusyboxImage {
    fn drop(&mut self) {
        let ids = Command::new("docker")
            .args(["ps", "-aq", "--filter", &format!("label={}", self.label)])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let ids: Vec<&str> = ids.lines().collect();
        if !ids.is_empty() {
            let _ = Command::new("docker").args(["rm", "-f", "-v"]).args(&ids).output();
        }
        let _ = Command::new("docker").args(["rmi", "-f", &self.name]).output();
    }
}

/// A Docker named volume a test made (or made a node make), removed when
/// dropped.
pub struct Volume(pub String);

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["volume", "rm", "-f", &self.0]).output();
    }
}

/// Removes, when dropped, the sandbox images (shoal's pause image,
/// labelled `io.shoal.pause`) the test's nodes imported, and any copy two
/// nodes importing at once left untagged.
pub struct PauseImages;

impl Drop for PauseImages {
    fn drop(&mut self) {
        let found = Command::new("docker").args(["images", "-aq", "--filter", "label=io.shoal.pause"]).output();
        let ids = found.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
        let ids: Vec<&str> = ids.lines().collect();
        if !ids.is_empty() {
            let _ = Command::new("docker").args(["rmi", "-f"]).args(&ids).output();
        }
    }
}
