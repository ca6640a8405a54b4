//! The real `terraform` the tests run (what scripts/install-terraform.sh provides) and a
//! private, throw-away place to run it: a temporary working directory holding the
//! configuration, its own data directory and an empty CLI configuration, no update checks.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use history::Recorder;
use history_exec::terraform::TerraformExecutor;

use super::workspace;

/// The real binary and its version (major, minor, patch).
pub(crate) struct RealTerraform {
    pub bin: PathBuf,
    pub version: (u32, u32, u32),
}

impl RealTerraform {
    /// Whether it has the built-in `terraform_data` resource (1.4 and later): the whole
    /// resource lifecycle with no provider to download.
    pub(crate) fn has_terraform_data(&self) -> bool {
        self.version >= (1, 4, 0)
    }

    /// Says on stderr why a part of a test does not run with this version; true when skipped.
    pub(crate) fn skip_without_terraform_data(&self, what: &str) -> bool {
        if self.has_terraform_data() {
            return false;
        }
        eprintln!(
            "skipped: {what} needs the built-in terraform_data resource (Terraform 1.4+); \
             this is Terraform {}.{}.{}",
            self.version.0, self.version.1, self.version.2
        );
        true
    }
}

/// The real `terraform`: `$HISTORY_TERRAFORM_BIN`, else `terraform` on PATH, else the one
/// scripts/install-terraform.sh fetches from PyPI (the script decides and says which).
pub(crate) fn real_terraform() -> &'static RealTerraform {
    static TF: OnceLock<RealTerraform> = OnceLock::new();
    TF.get_or_init(|| {
        let out = std::process::Command::new("bash")
            .arg(workspace().join("scripts/install-terraform.sh"))
            .output()
            .expect("run scripts/install-terraform.sh");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "scripts/install-terraform.sh failed: {stderr}"
        );
        eprint!("{stderr}");
        let bin = PathBuf::from(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .last()
                .expect("the script prints the binary's path")
                .trim(),
        );
        let version = std::process::Command::new(&bin)
            .arg("version")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .expect("terraform version");
        let text = String::from_utf8_lossy(&version.stdout);
        let numbers: Vec<u32> = text
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.strip_prefix('v'))
            .unwrap_or_else(|| panic!("no version in {text:?}"))
            .split('.')
            .map(|n| n.parse().expect("a version number"))
            .collect();
        RealTerraform {
            bin,
            version: (numbers[0], numbers[1], numbers[2]),
        }
    })
}

/// A configuration in a temporary working directory, run with the real binary.
pub(crate) struct TfDir {
    pub dir: tempfile::TempDir,
}

impl TfDir {
    /// A working directory holding `main.tf` with this text.
    pub(crate) fn new(main_tf: &str) -> TfDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("main.tf"), main_tf).expect("write main.tf");
        std::fs::write(dir.path().join("cli.tfrc"), "").expect("write cli.tfrc");
        TfDir { dir }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// An executor running the real binary here, offline and quiet: no update check, an empty
    /// CLI configuration of its own, its own data directory.
    pub(crate) fn executor(&self, recorder: &Recorder) -> TerraformExecutor {
        let p = self.dir.path();
        TerraformExecutor::new(recorder)
            .binary(&real_terraform().bin)
            .working_dir(p)
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_CLI_CONFIG_FILE", super::path_str(&p.join("cli.tfrc")))
            .env("TF_DATA_DIR", super::path_str(&p.join(".terraform-data")))
    }
}
