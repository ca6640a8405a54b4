//! The executor's settings checked before a run starts: each mistake is an error naming the
//! setting and the rule.

use super::AnsibleExecutor;
use crate::ExecError;

impl AnsibleExecutor {
    /// Checks every setting a run depends on.
    pub(super) fn check_common(&self) -> Result<(), ExecError> {
        for (name, _) in self
            .extra_vars
            .iter()
            .map(|(k, v)| (k, Some(v)))
            .chain(self.secret_vars.iter().map(|(k, _)| (k, None)))
        {
            check_var_name(name)?;
        }
        for (field, values) in [("tags", &self.tags), ("skip_tags", &self.skip_tags)] {
            if let Some(bad) = values
                .iter()
                .find(|t| t.is_empty() || t.contains(',') || t.starts_with('-'))
            {
                return Err(ExecError::invalid(
                    field,
                    format!("{bad:?} is not a tag: it must be non-empty, without ',' and not start with '-'"),
                ));
            }
        }
        if let Some(limit) = &self.limit {
            if limit.trim().is_empty() || limit.starts_with('-') {
                return Err(ExecError::invalid(
                    "limit",
                    format!(
                        "must be a host pattern, not empty nor starting with '-' (got {limit:?})"
                    ),
                ));
            }
        }
        if let Some(bad) = self.inventory.iter().find(|i| i.is_empty()) {
            return Err(ExecError::invalid(
                "inventory",
                format!("must not be empty (got {bad:?})"),
            ));
        }
        for (key, _) in &self.env {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                return Err(ExecError::invalid(
                    "env",
                    format!("{key:?} is not a valid environment variable name"),
                ));
            }
        }
        Ok(())
    }
}

/// Ansible variable names: a letter or `_`, then letters, digits and `_`.
fn check_var_name(name: &str) -> Result<(), ExecError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') && name.len() <= 200 {
        return Ok(());
    }
    Err(ExecError::invalid(
        "extra_vars",
        format!(
            "{name:?} is not a valid Ansible variable name: it must be 1 to 200 characters, \
             start with a letter or '_', and hold only letters, digits and '_'"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_are_checked() {
        assert!(check_var_name("db_password").is_ok());
        for bad in ["", "9x", "a-b", "a b"] {
            let e = check_var_name(bad).unwrap_err().to_string();
            assert!(e.contains("extra_vars"), "{e}");
        }
    }
}
