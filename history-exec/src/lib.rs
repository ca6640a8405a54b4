//! Executors: Terraform and Ansible runs recorded as first-class [`history`] events.
//!
//! - [`process`]: the process-run core every executor uses — spawn with arguments, environment
//!   and working directory; stream stdout/stderr lines; keep the first and last lines; tee to a
//!   file; timeout and cancellation that kill the whole process group; live subscription.
//! - [`terraform`]: [`TerraformExecutor`] runs the `terraform` CLI with `-json`, parses its
//!   machine-readable UI stream and records a `terraform_*` event walking [`TerraformStatus`].
//! - [`ansible`]: [`AnsibleExecutor`] runs `ansible-playbook` and `ansible`, parses per-host task
//!   results and the PLAY RECAP, and records a `playbook_run` / `adhoc_run` event.
//! - [`Execution`]: a run under way — its event id, live output, cancellation, its result.
//! - [`Redactor`]: secret values scrubbed from everything kept.
//!
//! Every run is recorded through a [`Recorder`](history::Recorder): its [`Event`](history::Event)
//! carries the run summary in `result` and the execution details (exit code, kept output lines,
//! change summary, per-host stats) in `execution`. Secret values never reach the event, the
//! command line that is logged, or the kept output.
//!
//! [`TerraformStatus`]: history::TerraformStatus

pub mod ansible;
pub mod process;
pub mod terraform;

mod error;
mod execution;
mod record;
mod redact;

pub use ansible::{AnsibleExecutor, AnsibleRun, AnsibleTarget, HostStats};
pub use error::ExecError;
pub use execution::Execution;
pub use process::{
    Ending, KeptOutput, LineAction, LineHandler, OutputLine, ProcessCommand, ProcessOutcome,
    Running, StreamKind, Subscription,
};
pub use record::Subjects;
pub use redact::{Redactor, REDACTED};
pub use terraform::{TerraformCommand, TerraformExecutor, TerraformRun};
