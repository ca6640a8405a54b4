//! Parsing the attribute's arguments. Every mistake is a compile error pointing at the
//! offending token.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{parenthesized, Error, Expr, Ident, LitStr, Result, Token};

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    History,
    Terraform,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::History => "track_history",
            Kind::Terraform => "track_terraform",
        }
    }

    fn accepts(self) -> &'static [&'static str] {
        match self {
            Kind::History => &[
                "event_type",
                "operation",
                "user_id",
                "vm_id",
                "credential_id",
                "organization_id",
                "correlation_id",
                "labels",
                "skip",
                "skip_all",
                "redact",
                "capture_self",
                "result",
                "ok_if",
                "error_if",
                "recorder",
                "backtrace",
                "durability",
            ],
            Kind::Terraform => &[
                "command",
                "working_dir",
                "variables",
                "sensitive",
                "operation",
                "user_id",
                "vm_id",
                "credential_id",
                "organization_id",
                "correlation_id",
                "labels",
                "skip",
                "skip_all",
                "redact",
                "capture_self",
                "result",
                "ok_if",
                "error_if",
                "recorder",
                "backtrace",
                "durability",
            ],
        }
    }
}

/// `event_type = ...`.
pub(crate) enum EventTypeArg {
    /// An expression of type `EventType` (type-checked by the compiler).
    Expr(Expr),
    /// A custom name, validated here.
    Custom(LitStr),
}

/// A Terraform command.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    Init,
    Plan,
    Apply,
    Destroy,
}

impl Command {
    pub(crate) fn from_name(name: &str) -> Option<Command> {
        match name {
            "init" => Some(Command::Init),
            "plan" => Some(Command::Plan),
            "apply" => Some(Command::Apply),
            "destroy" => Some(Command::Destroy),
            _ => None,
        }
    }

    /// The command a function name suggests: `destroy_stack` → destroy.
    pub(crate) fn infer(fn_name: &str) -> Option<Command> {
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

/// `durability = sync | buffered`: how the call's final record is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum DurabilityArg {
    Buffered,
    Sync,
}

impl DurabilityArg {
    pub(crate) fn variant(self) -> &'static str {
        match self {
            DurabilityArg::Buffered => "Buffered",
            DurabilityArg::Sync => "Sync",
        }
    }
}

/// One `labels(key = expr)` entry.
pub(crate) struct Label {
    pub key: LitStr,
    pub value: Expr,
}

/// Everything the attribute was given.
#[derive(Default)]
pub(crate) struct Args {
    pub event_type: Option<EventTypeArg>,
    pub operation: Option<LitStr>,
    pub user_id: Option<Expr>,
    pub vm_id: Option<Expr>,
    pub credential_id: Option<Expr>,
    pub organization_id: Option<Expr>,
    pub correlation_id: Option<Expr>,
    pub labels: Vec<Label>,
    pub skip: Vec<Ident>,
    pub skip_all: bool,
    pub redact: Vec<Ident>,
    pub capture_self: bool,
    pub skip_result: bool,
    pub ok_if: Option<Expr>,
    pub error_if: Option<Expr>,
    pub recorder: Option<Expr>,
    pub backtrace: bool,
    pub durability: Option<DurabilityArg>,
    pub command: Option<(Command, Span)>,
    pub working_dir: Option<Expr>,
    pub variables: Option<Expr>,
    pub sensitive: Vec<LitStr>,
}

impl Args {
    pub(crate) fn parse(kind: Kind, input: ParseStream<'_>) -> Result<Args> {
        let mut args = Args::default();
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            let name = Ident::parse_any(input)?;
            let key = name.to_string();
            if !kind.accepts().contains(&key.as_str()) {
                return Err(Error::new(
                    name.span(),
                    format!(
                        "unknown argument `{key}` for #[{}]; expected one of: {}",
                        kind.name(),
                        kind.accepts().join(", ")
                    ),
                ));
            }
            if seen.contains(&key) {
                return Err(Error::new(
                    name.span(),
                    format!("duplicate argument `{key}`"),
                ));
            }
            seen.push(key.clone());
            args.parse_one(&name, &key, input)?;
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }

    fn parse_one(&mut self, name: &Ident, key: &str, input: ParseStream<'_>) -> Result<()> {
        match key {
            "event_type" => {
                input.parse::<Token![=]>()?;
                self.event_type = Some(if input.peek(LitStr) {
                    let lit: LitStr = input.parse()?;
                    validate_custom_type(&lit)?;
                    EventTypeArg::Custom(lit)
                } else if input.peek(syn::Lit) {
                    let lit: syn::Lit = input.parse()?;
                    return Err(Error::new(
                        lit.span(),
                        "`event_type` must be an `EventType` (e.g. `EventType::VmCreate`) or a \
                         string literal naming a custom type (e.g. \"backup_run\")",
                    ));
                } else {
                    EventTypeArg::Expr(input.parse()?)
                });
            }
            "operation" => {
                input.parse::<Token![=]>()?;
                let lit: LitStr = input.parse()?;
                let len = lit.value().chars().count();
                if !(1..=100).contains(&len) {
                    return Err(Error::new(
                        lit.span(),
                        format!("`operation` must be 1 to 100 characters (got {len})"),
                    ));
                }
                self.operation = Some(lit);
            }
            "user_id" => self.user_id = Some(expr_value(input)?),
            "vm_id" => self.vm_id = Some(expr_value(input)?),
            "credential_id" => self.credential_id = Some(expr_value(input)?),
            "organization_id" => self.organization_id = Some(expr_value(input)?),
            "correlation_id" => self.correlation_id = Some(expr_value(input)?),
            "ok_if" => self.ok_if = Some(expr_value(input)?),
            "error_if" => self.error_if = Some(expr_value(input)?),
            "recorder" => self.recorder = Some(expr_value(input)?),
            "working_dir" => self.working_dir = Some(expr_value(input)?),
            "variables" => self.variables = Some(expr_value(input)?),
            "labels" => {
                let content;
                parenthesized!(content in input);
                let labels = Punctuated::<Label, Token![,]>::parse_terminated(&content)?;
                let mut keys: Vec<String> = Vec::new();
                for l in &labels {
                    if keys.contains(&l.key.value()) {
                        return Err(Error::new(
                            l.key.span(),
                            format!("duplicate label `{}`", l.key.value()),
                        ));
                    }
                    keys.push(l.key.value());
                }
                self.labels = labels.into_iter().collect();
            }
            "skip" | "redact" => {
                let content;
                parenthesized!(content in input);
                let names = Punctuated::<Ident, Token![,]>::parse_terminated_with(
                    &content,
                    Ident::parse_any,
                )?;
                if names.is_empty() {
                    return Err(Error::new(
                        name.span(),
                        format!("`{key}(...)` needs at least one argument name"),
                    ));
                }
                let list = if key == "skip" {
                    &mut self.skip
                } else {
                    &mut self.redact
                };
                list.extend(names);
            }
            "sensitive" => {
                let content;
                parenthesized!(content in input);
                let names = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
                self.sensitive = names.into_iter().collect();
            }
            "skip_all" => self.skip_all = true,
            "capture_self" => self.capture_self = true,
            "backtrace" => self.backtrace = true,
            "result" => {
                input.parse::<Token![=]>()?;
                let v: Ident = input.parse()?;
                if v != "skip" {
                    return Err(Error::new(
                        v.span(),
                        "`result` accepts only `skip` (result = skip)",
                    ));
                }
                self.skip_result = true;
            }
            "durability" => {
                input.parse::<Token![=]>()?;
                self.durability = Some(durability_value(input)?);
            }
            "command" => {
                input.parse::<Token![=]>()?;
                let lit: LitStr = input.parse()?;
                let c = Command::from_name(&lit.value()).ok_or_else(|| {
                    Error::new(
                        lit.span(),
                        format!(
                            "unknown Terraform command {:?}; expected \"init\", \"plan\", \
                             \"apply\" or \"destroy\"",
                            lit.value()
                        ),
                    )
                })?;
                self.command = Some((c, lit.span()));
            }
            other => {
                // `Kind::accepts` and this match list the same names.
                return Err(Error::new(
                    name.span(),
                    format!("unsupported argument `{other}`"),
                ));
            }
        }
        Ok(())
    }
}

fn expr_value(input: ParseStream<'_>) -> Result<Expr> {
    input.parse::<Token![=]>()?;
    input.parse()
}

/// `sync` or `buffered`; anything else is an error on that token.
fn durability_value(input: ParseStream<'_>) -> Result<DurabilityArg> {
    const EXPECTED: &str = "`durability` accepts `sync` (the call returns once its final event \
                            is committed) or `buffered` (the default)";
    if input.is_empty() || input.peek(Token![,]) {
        return Err(input.error(EXPECTED));
    }
    let value: proc_macro2::TokenTree = input.parse()?;
    match &value {
        proc_macro2::TokenTree::Ident(i) if i == "sync" => Ok(DurabilityArg::Sync),
        proc_macro2::TokenTree::Ident(i) if i == "buffered" => Ok(DurabilityArg::Buffered),
        other => Err(Error::new(
            other.span(),
            format!("{EXPECTED}, not `{other}`"),
        )),
    }
}

impl Parse for Label {
    fn parse(input: ParseStream<'_>) -> Result<Label> {
        let key = if input.peek(LitStr) {
            input.parse::<LitStr>()?
        } else {
            let ident = Ident::parse_any(input)?;
            LitStr::new(&ident.unraw().to_string(), ident.span())
        };
        let len = key.value().chars().count();
        if !(1..=100).contains(&len) {
            return Err(Error::new(
                key.span(),
                format!("a label key must be 1 to 100 characters (got {len})"),
            ));
        }
        input.parse::<Token![=]>()?;
        Ok(Label {
            key,
            value: input.parse()?,
        })
    }
}

/// The rules of `EventType::custom`, checked at compile time.
pub(crate) fn validate_custom_type(lit: &LitStr) -> Result<()> {
    let name = lit.value();
    let len = name.chars().count();
    if !(1..=100).contains(&len) {
        return Err(Error::new(
            lit.span(),
            format!("`event_type` must be 1 to 100 characters (got {len})"),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-:".contains(*c)))
    {
        return Err(Error::new(
            lit.span(),
            format!("`event_type` may hold only a-z, 0-9, '_', '.', '-', ':' (got {bad:?})"),
        ));
    }
    Ok(())
}

/// Whether an argument name looks like it holds a secret (redacted unless skipped): it
/// contains password, passwd, secret, token, api_key, apikey, private_key or credential, but
/// `credential_id` is an id. Mirrors `history::__private::terraform::is_secret_name`.
pub(crate) fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    const WORDS: [&str; 7] = [
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "private_key",
    ];
    if WORDS.iter().any(|w| name.contains(w)) {
        return true;
    }
    name.contains("credential")
        && !(name.ends_with("credential_id") || name.ends_with("credential_ids"))
}

#[cfg(test)]
mod tests {
    use super::is_secret_name;

    /// The macro decides at compile time which arguments are redacted; the runtime decides for
    /// Terraform variables and executor extra vars. The two lists cannot share code (this
    /// crate cannot depend on `history`), so they must agree name for name.
    #[test]
    fn secret_names_agree_with_the_runtime() {
        let names = [
            "password",
            "admin_password",
            "db_passwd",
            "client_secret",
            "api_token",
            "token",
            "api_key",
            "apikey",
            "private_key",
            "ssh_private_key",
            "credential",
            "aws_credentials",
            "credential_id",
            "credential_ids",
            "user_credential_id",
            "Password",
            "API_KEY",
            "name",
            "user_id",
            "spec",
            "key",
            "keys",
            "monkey",
            "region",
        ];
        for name in names {
            assert_eq!(
                is_secret_name(name),
                history::__private::terraform::is_secret_name(name),
                "the macro and the runtime disagree on {name:?}"
            );
        }
        assert!(is_secret_name("admin_password") && !is_secret_name("credential_id"));
    }
}
