//! Executors: Terraform and Ansible runs recorded as first-class history (feature `executors`).
//!
//! - [`process`]: the process-run core every executor uses — spawn with arguments, environment
//!   and working directory; stream stdout/stderr lines; keep the first and last lines; tee to a
//!   file; timeout and cancellation that kill the whole process group; live subscription.
//! - [`terraform`]: [`TerraformExecutor`] runs the `terraform` CLI with `-json`, parses its
//!   machine-readable UI stream and records a `terraform_*` event walking [`TerraformStatus`].
//! - [`ansible`]: [`AnsibleExecutor`] runs `ansible-playbook` and `ansible`, parses per-host task
//!   results and the PLAY RECAP, and records a `playbook_run` / `adhoc_run` event.
//! - [`Redactor`]: secret values scrubbed from everything kept.
//!
//! Every run is recorded through a [`Recorder`](crate::Recorder): its [`Event`](crate::Event)
//! carries the run summary in `result` and the execution details (exit code, kept output lines,
//! change summary, per-host stats) in `execution`. Secret values never reach the event, the
//! command line that is logged, or the kept output.
//!
//! [`TerraformStatus`]: crate::TerraformStatus

pub mod ansible;
pub mod process;
pub mod terraform;

mod error;
mod record;
mod redact;

pub use ansible::{AnsibleExecution, AnsibleExecutor, AnsibleRun, AnsibleTarget, HostStats};
pub use error::ExecError;
pub use process::{
    Ending, KeptOutput, LineAction, LineHandler, OutputLine, ProcessCommand, ProcessOutcome,
    Running, StreamKind, Subscription,
};
pub use record::Subjects;
pub use redact::{Redactor, REDACTED};
pub use terraform::{TerraformCommand, TerraformExecution, TerraformExecutor, TerraformRun};
