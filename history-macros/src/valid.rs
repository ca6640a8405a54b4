//! Checking the parsed arguments against each other and against the function they are on,
//! apart from parsing (`attr`) and code generation (`expand`). Every mistake found is reported,
//! each as a compile error on the offending token; what the checks decide (the Terraform
//! command, the durability, the default event type) is handed to `expand` in [`Checked`].

use proc_macro2::TokenTree;
use syn::{Error, LitStr, Result, Signature};

use crate::attr::{Args, CommandArg, EventTypeArg, Kind, DURABILITY_EXPECTED};
use crate::bind::{unraw, Binding};

/// Names (operation, custom event type, label keys) are 1 to this many characters: the
/// runtime's `history::event::limits::MAX_NAME_CHARS` (a test pins the two together).
pub(crate) const MAX_NAME_CHARS: usize = 100;

/// A Terraform command known at compile time.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    Init,
    Plan,
    Apply,
    Destroy,
}

impl Command {
    const ALL: [(&'static str, Command); 4] = [
        ("init", Command::Init),
        ("plan", Command::Plan),
        ("apply", Command::Apply),
        ("destroy", Command::Destroy),
    ];

    fn from_name(name: &str) -> Option<Command> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }

    /// The command a function name suggests: `destroy_stack` → destroy.
    fn infer(fn_name: &str) -> Option<Command> {
        let n = fn_name.to_ascii_lowercase();
        [
            ("destroy", Command::Destroy),
            ("apply", Command::Apply),
            ("plan", Command::Plan),
            ("init", Command::Init),
        ]
        .into_iter()
        .find(|(w, _)| n.contains(w))
        .map(|(_, c)| c)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Command::Init => "init",
            Command::Plan => "plan",
            Command::Apply => "apply",
            Command::Destroy => "destroy",
        }
    }

    pub(crate) fn variant(self) -> &'static str {
        match self {
            Command::Init => "TerraformInit",
            Command::Plan => "TerraformPlan",
            Command::Apply => "TerraformApply",
            Command::Destroy => "TerraformDestroy",
        }
    }
}

/// The Terraform command of a `#[track_terraform]` call.
pub(crate) enum TerraformCommand<'a> {
    /// Known now.
    Known(Command),
    /// A value the call checks when it runs.
    AtRunTime(&'a syn::Expr),
}

/// What the checks decided.
pub(crate) struct Checked<'a> {
    /// `None` for `#[track_history]`.
    pub command: Option<TerraformCommand<'a>>,
    /// `Buffered` or `Sync`: the `history::Durability` variant.
    pub durability: &'static str,
    /// The event type when `event_type` is not given: the function's name.
    pub default_event_type: Option<LitStr>,
}

/// Collects every error instead of stopping at the first.
#[derive(Default)]
struct Errors(Option<Error>);

impl Errors {
    fn push(&mut self, error: Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn finish<T>(self, value: T) -> Result<T> {
        match self.0 {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }
}

/// Checks `args` given to the attribute `kind` on a function with signature `sig`, binding
/// `bindings` (and `self` when `has_self`).
pub(crate) fn check<'a>(
    kind: Kind,
    args: &'a Args,
    sig: &Signature,
    bindings: &[Binding],
    has_self: bool,
) -> Result<Checked<'a>> {
    let mut errors = Errors::default();
    check_signature(sig, &mut errors);

    match &args.event_type {
        Some(EventTypeArg::Custom(lit)) => {
            if let Err(problem) = custom_type_rule(&lit.value()) {
                errors.push(Error::new(lit.span(), format!("`event_type` {problem}")));
            }
        }
        Some(EventTypeArg::Literal(lit)) => errors.push(Error::new(
            lit.span(),
            "`event_type` must be an `EventType` (e.g. `EventType::VmCreate`) or a string \
             literal naming a custom type (e.g. \"backup_run\")",
        )),
        Some(EventTypeArg::Expr(_)) | None => {}
    }
    if let Some(op) = &args.operation {
        if let Err(problem) = name_length_rule(&op.value()) {
            errors.push(Error::new(op.span(), format!("`operation` {problem}")));
        }
    }
    let mut keys: Vec<String> = Vec::new();
    for label in &args.labels {
        let key = label.key.value();
        if let Err(problem) = name_length_rule(&key) {
            errors.push(Error::new(
                label.key.span(),
                format!("a label key {problem}"),
            ));
        } else if keys.contains(&key) {
            errors.push(Error::new(
                label.key.span(),
                format!("duplicate label `{key}`"),
            ));
        }
        keys.push(key);
    }
    for (what, lists) in [("skip", &args.skip), ("redact", &args.redact)] {
        for (token, names) in lists {
            if names.is_empty() {
                errors.push(Error::new(
                    token.span(),
                    format!("`{what}(...)` needs at least one argument name"),
                ));
            }
            for ident in names {
                check_name(what, ident, bindings, has_self, &mut errors);
            }
        }
    }
    if let Some(token) = &args.capture_self {
        if !has_self {
            errors.push(Error::new(
                token.span(),
                "`capture_self` is given but the function takes no `self`",
            ));
        }
    }
    if let Some(value) = &args.result {
        if value != "skip" {
            errors.push(Error::new(
                value.span(),
                "`result` accepts only `skip` (result = skip)",
            ));
        }
    }
    let durability = match &args.durability {
        None => "Buffered",
        Some(TokenTree::Ident(i)) if i == "buffered" => "Buffered",
        Some(TokenTree::Ident(i)) if i == "sync" => "Sync",
        Some(other) => {
            errors.push(Error::new(
                other.span(),
                format!("{DURABILITY_EXPECTED}, not `{other}`"),
            ));
            "Buffered"
        }
    };

    let fn_name = unraw(&sig.ident);
    let command = match (kind, &args.command) {
        (Kind::History, _) => None,
        (Kind::Terraform, Some(CommandArg::Expr(e))) => Some(TerraformCommand::AtRunTime(e)),
        (Kind::Terraform, Some(CommandArg::Literal(lit))) => match Command::from_name(&lit.value())
        {
            Some(c) => Some(TerraformCommand::Known(c)),
            None => {
                errors.push(Error::new(
                    lit.span(),
                    format!(
                        "unknown Terraform command {:?}; expected \"init\", \"plan\", \"apply\" \
                         or \"destroy\" (or a value naming one at run time)",
                        lit.value()
                    ),
                ));
                None
            }
        },
        (Kind::Terraform, None) => match Command::infer(&fn_name) {
            Some(c) => Some(TerraformCommand::Known(c)),
            None => {
                errors.push(Error::new(
                    sig.ident.span(),
                    format!(
                        "cannot infer the Terraform command from the name `{fn_name}`; add \
                         command = \"init\" | \"plan\" | \"apply\" | \"destroy\", or \
                         command = <a value naming one>"
                    ),
                ));
                None
            }
        },
    };

    let default_event_type = if kind == Kind::History && args.event_type.is_none() {
        let name = fn_name.to_ascii_lowercase();
        match custom_type_rule(&name) {
            Ok(()) => Some(LitStr::new(&name, sig.ident.span())),
            Err(problem) => {
                errors.push(Error::new(
                    sig.ident.span(),
                    format!(
                        "the function name cannot be the event type: an event type {problem}; \
                         add event_type = ..."
                    ),
                ));
                None
            }
        }
    } else {
        None
    };

    errors.finish(Checked {
        command,
        durability,
        default_event_type,
    })
}

fn check_signature(sig: &Signature, errors: &mut Errors) {
    if let Some(c) = &sig.constness {
        errors.push(Error::new(
            c.span,
            "a `const fn` cannot be tracked: recording an event is not possible in const \
             evaluation; remove `const` or the attribute",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(Error::new(
            abi.extern_token.span,
            "an `extern` fn cannot be tracked: a panic could not be recorded and resumed across \
             the foreign ABI; track a Rust function it calls instead",
        ));
    }
    if let Some(v) = &sig.variadic {
        errors.push(Error::new(
            v.dots.spans[0],
            "a variadic fn cannot be tracked",
        ));
    }
}

fn check_name(
    what: &str,
    ident: &syn::Ident,
    bindings: &[Binding],
    has_self: bool,
    errors: &mut Errors,
) {
    let name = unraw(ident);
    let known = bindings.iter().any(|b| b.name == name) || (has_self && name == "self");
    if !known {
        let names: Vec<&str> = bindings.iter().map(|b| b.name.as_str()).collect();
        errors.push(Error::new(
            ident.span(),
            format!(
                "`{what}({name})`: the function has no argument `{name}` (arguments: {})",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ),
        ));
    }
}

/// The length rule of names (operation, custom event type, label keys): 1 to
/// [`MAX_NAME_CHARS`] characters. The error completes "`operation` ...".
pub(crate) fn name_length_rule(name: &str) -> std::result::Result<(), String> {
    let len = name.chars().count();
    if (1..=MAX_NAME_CHARS).contains(&len) {
        Ok(())
    } else {
        Err(format!(
            "must be 1 to {MAX_NAME_CHARS} characters (got {len})"
        ))
    }
}

/// The rules of `history::EventType::custom`: the length rule, and only a-z, 0-9 and `_.-:`.
pub(crate) fn custom_type_rule(name: &str) -> std::result::Result<(), String> {
    name_length_rule(name)?;
    match name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-:".contains(*c)))
    {
        Some(bad) => Err(format!(
            "may hold only a-z, 0-9, '_', '.', '-', ':' (got {bad:?})"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::{custom_type_rule, name_length_rule, MAX_NAME_CHARS};

    /// The macro checks names at compile time that the runtime checks on hand-built events;
    /// this crate cannot depend on `history` for the rules, so they are pinned together here.
    #[test]
    fn name_rules_agree_with_the_runtime() {
        assert_eq!(MAX_NAME_CHARS, history::event::limits::MAX_NAME_CHARS);
        let long = "a".repeat(MAX_NAME_CHARS);
        let too_long = "a".repeat(MAX_NAME_CHARS + 1);
        let wide = "é".repeat(MAX_NAME_CHARS);
        for name in [
            "backup_run",
            "a",
            "",
            "vm_create",
            "terraform_apply",
            "svc.op-1:v2",
            "Backup",
            "backup run",
            "backup/run",
            "ünïcode",
            "tab\there",
            long.as_str(),
            too_long.as_str(),
        ] {
            assert_eq!(
                custom_type_rule(name).is_ok(),
                history::EventType::custom(name).is_ok(),
                "the macro and the runtime disagree on the event type {name:?}"
            );
        }
        for name in ["", "x", long.as_str(), too_long.as_str(), wide.as_str()] {
            let mut event = history::Event::new(history::EventType::VmCreate, "op");
            event.operation = name.to_owned().into();
            assert_eq!(
                name_length_rule(name).is_ok(),
                event.validate().is_ok(),
                "the macro and the runtime disagree on the operation {name:?}"
            );
        }
    }
}
