//! [`TerraformCommand`]: the Terraform commands an executor runs, with their fixed flags.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ExecError;
use history::EventType;

/// A Terraform command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TerraformCommand {
    /// `terraform init` (no `-json`: older versions lack it; lines are kept as text).
    Init,
    /// `terraform plan`.
    Plan,
    /// `terraform apply -auto-approve`.
    Apply,
    /// `terraform destroy -auto-approve`.
    Destroy,
}

impl TerraformCommand {
    /// The subcommand, e.g. `apply`.
    pub fn as_str(&self) -> &'static str {
        match self {
            TerraformCommand::Init => "init",
            TerraformCommand::Plan => "plan",
            TerraformCommand::Apply => "apply",
            TerraformCommand::Destroy => "destroy",
        }
    }

    /// The event type a run of it is recorded as.
    pub fn event_type(&self) -> EventType {
        match self {
            TerraformCommand::Init => EventType::TerraformInit,
            TerraformCommand::Plan => EventType::TerraformPlan,
            TerraformCommand::Apply => EventType::TerraformApply,
            TerraformCommand::Destroy => EventType::TerraformDestroy,
        }
    }

    /// Whether it takes `-var` / `-var-file`.
    pub(super) fn takes_variables(&self) -> bool {
        !matches!(self, TerraformCommand::Init)
    }

    /// The flags that always follow the subcommand.
    pub(super) fn fixed_args(&self) -> &'static [&'static str] {
        match self {
            TerraformCommand::Init => &["-input=false", "-no-color"],
            TerraformCommand::Plan => &["-json", "-input=false", "-no-color"],
            TerraformCommand::Apply | TerraformCommand::Destroy => {
                &["-json", "-input=false", "-no-color", "-auto-approve"]
            }
        }
    }
}

impl fmt::Display for TerraformCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TerraformCommand {
    type Err = ExecError;
    fn from_str(s: &str) -> Result<Self, ExecError> {
        match s {
            "init" => Ok(TerraformCommand::Init),
            "plan" => Ok(TerraformCommand::Plan),
            "apply" => Ok(TerraformCommand::Apply),
            "destroy" => Ok(TerraformCommand::Destroy),
            other => Err(ExecError::invalid(
                "command",
                format!("must be one of init, plan, apply, destroy (got {other:?})"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_have_their_flags() {
        assert!(TerraformCommand::Apply
            .fixed_args()
            .contains(&"-auto-approve"));
        assert!(!TerraformCommand::Plan
            .fixed_args()
            .contains(&"-auto-approve"));
        assert!(TerraformCommand::Destroy.fixed_args().contains(&"-json"));
        assert_eq!(
            "destroy".parse::<TerraformCommand>().unwrap(),
            TerraformCommand::Destroy
        );
        assert!("nuke".parse::<TerraformCommand>().is_err());
    }
}
