//! Parsing the attribute's arguments into [`Args`], with no judgement on their values: that is
//! `valid`'s job. Every argument is named once, in [`ARGUMENTS`], with the attributes that
//! accept it and how its value is read; a syntax error points at the offending token with
//! syn's own message.

use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{parenthesized, Error, Expr, Ident, LitStr, Path, Result, Token};

/// What `durability = ...` accepts.
pub(crate) const DURABILITY_EXPECTED: &str = "`durability` accepts `sync` (the call returns once \
                                              its final event is committed) or `buffered` (the \
                                              default)";

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    History,
    Terraform,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::History => "track_history",
            Kind::Terraform => "track_terraform",
        }
    }

    /// The names of the arguments this attribute accepts, in [`ARGUMENTS`]' order.
    fn accepted(self) -> impl Iterator<Item = &'static str> {
        ARGUMENTS
            .iter()
            .filter(move |a| a.on.accepts(self))
            .map(|a| a.name)
    }
}

/// Which attributes accept an argument.
#[derive(Clone, Copy)]
enum On {
    Both,
    History,
    Terraform,
}

impl On {
    fn accepts(self, kind: Kind) -> bool {
        match self {
            On::Both => true,
            On::History => kind == Kind::History,
            On::Terraform => kind == Kind::Terraform,
        }
    }
}

/// One argument: its name, the attributes that accept it, and how its value is read.
struct Argument {
    name: &'static str,
    on: On,
    parse: fn(&mut Args, &Ident, ParseStream<'_>) -> Result<()>,
}

/// Every argument either attribute accepts; the only list of their names.
const ARGUMENTS: &[Argument] = &[
    Argument {
        name: "event_type",
        on: On::History,
        parse: |a, _, input| {
            input.parse::<Token![=]>()?;
            a.event_type = Some(if input.peek(LitStr) {
                EventTypeArg::Custom(input.parse()?)
            } else if input.peek(syn::Lit) {
                EventTypeArg::Literal(input.parse()?)
            } else {
                EventTypeArg::Expr(input.parse()?)
            });
            Ok(())
        },
    },
    Argument {
        name: "command",
        on: On::Terraform,
        parse: |a, _, input| {
            input.parse::<Token![=]>()?;
            a.command = Some(if input.peek(LitStr) {
                CommandArg::Literal(input.parse()?)
            } else {
                CommandArg::Expr(input.parse()?)
            });
            Ok(())
        },
    },
    Argument {
        name: "working_dir",
        on: On::Terraform,
        parse: |a, _, input| set_expr(&mut a.working_dir, input),
    },
    Argument {
        name: "variables",
        on: On::Terraform,
        parse: |a, _, input| set_expr(&mut a.variables, input),
    },
    Argument {
        name: "sensitive",
        on: On::Terraform,
        parse: |a, _, input| {
            let content;
            parenthesized!(content in input);
            a.sensitive = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?
                .into_iter()
                .collect();
            Ok(())
        },
    },
    Argument {
        name: "operation",
        on: On::Both,
        parse: |a, _, input| {
            input.parse::<Token![=]>()?;
            a.operation = Some(input.parse()?);
            Ok(())
        },
    },
    Argument {
        name: "user_id",
        on: On::Both,
        parse: |a, _, input| set_expr(&mut a.user_id, input),
    },
    Argument {
        name: "vm_id",
        on: On::Both,
        parse: |a, _, input| set_expr(&mut a.vm_id, input),
    },
    Argument {
        name: "credential_id",
        on: On::Both,
        parse: |a, _, input| set_expr(&mut a.credential_id, input),
    },
    Argument {
        name: "organization_id",
        on: On::Both,
        parse: |a, _, input| set_expr(&mut a.organization_id, input),
    },
    Argument {
        name: "correlation_id",
        on: On::Both,
        parse: |a, _, input| set_expr(&mut a.correlation_id, input),
    },
    Argument {
        name: "labels",
        on: On::Both,
        parse: |a, _, input| {
            let content;
            parenthesized!(content in input);
            a.labels = Punctuated::<Label, Token![,]>::parse_terminated(&content)?
                .into_iter()
                .collect();
            Ok(())
        },
    },
    Argument {
        name: "skip",
        on: On::Both,
        parse: |a, name, input| {
            let names = name_list(input)?;
            a.skip.push((name.clone(), names));
            Ok(())
        },
    },
    Argument {
        name: "skip_all",
        on: On::Both,
        parse: |a, _, _| {
            a.skip_all = true;
            Ok(())
        },
    },
    Argument {
        name: "redact",
        on: On::Both,
        parse: |a, name, input| {
            let names = name_list(input)?;
            a.redact.push((name.clone(), names));
            Ok(())
        },
    },
    Argument {
        name: "capture_self",
        on: On::Both,
        parse: |a, name, _| {
            a.capture_self = Some(name.clone());
            Ok(())
        },
    },
    Argument {
        name: "result",
        on: On::Both,
        parse: |a, _, input| {
            input.parse::<Token![=]>()?;
            a.result = Some(input.parse()?);
            Ok(())
        },
    },
    Argument {
        name: "ok_if",
        on: On::Both,
        parse: |a, _, input| set_expr(&mut a.ok_if, input),
    },
    Argument {
        name: "error_if",
        on: On::Both,
        parse: |a, _, input| set_expr(&mut a.error_if, input),
    },
    Argument {
        name: "recorder",
        on: On::Both,
        parse: |a, _, input| set_expr(&mut a.recorder, input),
    },
    Argument {
        name: "backtrace",
        on: On::Both,
        parse: |a, _, _| {
            a.backtrace = true;
            Ok(())
        },
    },
    Argument {
        name: "no_span",
        on: On::Both,
        parse: |a, _, _| {
            a.no_span = true;
            Ok(())
        },
    },
    Argument {
        name: "durability",
        on: On::Both,
        parse: |a, _, input| {
            input.parse::<Token![=]>()?;
            if input.is_empty() || input.peek(Token![,]) {
                return Err(input.error(DURABILITY_EXPECTED));
            }
            a.durability = Some(input.parse()?);
            Ok(())
        },
    },
    Argument {
        name: "crate",
        on: On::Both,
        parse: |a, _, input| {
            input.parse::<Token![=]>()?;
            a.krate = Some(Path::parse_mod_style(input)?);
            Ok(())
        },
    },
];

/// `event_type = ...`.
pub(crate) enum EventTypeArg {
    /// An expression of type `EventType` (type-checked by the compiler).
    Expr(Expr),
    /// A custom name (validated by `valid`).
    Custom(LitStr),
    /// Any other literal: a mistake `valid` reports.
    Literal(syn::Lit),
}

/// `command = ...` of `#[track_terraform]`.
pub(crate) enum CommandArg {
    /// A command known at compile time.
    Literal(LitStr),
    /// A value known only at run time (checked then).
    Expr(Expr),
}

/// One `labels(key = expr)` entry.
pub(crate) struct Label {
    pub key: LitStr,
    pub value: Expr,
}

/// Everything the attribute was given, as written.
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
    /// Each `skip(...)`, with the `skip` token (for an empty list's error).
    pub skip: Vec<(Ident, Vec<Ident>)>,
    pub skip_all: bool,
    pub redact: Vec<(Ident, Vec<Ident>)>,
    pub capture_self: Option<Ident>,
    /// The value of `result = ...` (only `skip` is valid).
    pub result: Option<Ident>,
    pub ok_if: Option<Expr>,
    pub error_if: Option<Expr>,
    pub recorder: Option<Expr>,
    pub backtrace: bool,
    /// `no_span`: no `tracing` span for this function, even with the span bridge on.
    pub no_span: bool,
    /// The value of `durability = ...`, as one token (checked by `valid`).
    pub durability: Option<proc_macro2::TokenTree>,
    pub command: Option<CommandArg>,
    pub working_dir: Option<Expr>,
    pub variables: Option<Expr>,
    pub sensitive: Vec<LitStr>,
    /// `crate = path`: where `history` is, for users who rename or re-export it.
    pub krate: Option<Path>,
}

impl Args {
    pub(crate) fn parse(kind: Kind, input: ParseStream<'_>) -> Result<Args> {
        let mut args = Args::default();
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            let name = Ident::parse_any(input)?;
            let key = name.to_string();
            let argument = ARGUMENTS
                .iter()
                .find(|a| a.name == key && a.on.accepts(kind))
                .ok_or_else(|| {
                    Error::new(
                        name.span(),
                        format!(
                            "unknown argument `{key}` for #[{}]; expected one of: {}",
                            kind.name(),
                            kind.accepted().collect::<Vec<_>>().join(", ")
                        ),
                    )
                })?;
            if seen.contains(&key) {
                return Err(Error::new(
                    name.span(),
                    format!("duplicate argument `{key}`"),
                ));
            }
            seen.push(key);
            (argument.parse)(&mut args, &name, input)?;
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }

    /// Every `skip(...)` name.
    pub(crate) fn skipped(&self) -> impl Iterator<Item = &Ident> {
        self.skip.iter().flat_map(|(_, names)| names)
    }

    /// Every `redact(...)` name.
    pub(crate) fn redacted(&self) -> impl Iterator<Item = &Ident> {
        self.redact.iter().flat_map(|(_, names)| names)
    }
}

fn set_expr(slot: &mut Option<Expr>, input: ParseStream<'_>) -> Result<()> {
    input.parse::<Token![=]>()?;
    *slot = Some(input.parse()?);
    Ok(())
}

/// `(a, b, r#type)`.
fn name_list(input: ParseStream<'_>) -> Result<Vec<Ident>> {
    let content;
    parenthesized!(content in input);
    let names = Punctuated::<Ident, Token![,]>::parse_terminated_with(&content, Ident::parse_any)?;
    Ok(names.into_iter().collect())
}

impl Parse for Label {
    fn parse(input: ParseStream<'_>) -> Result<Label> {
        let key = if input.peek(LitStr) {
            input.parse::<LitStr>()?
        } else {
            let ident = Ident::parse_any(input)?;
            LitStr::new(&ident.unraw().to_string(), ident.span())
        };
        input.parse::<Token![=]>()?;
        Ok(Label {
            key,
            value: input.parse()?,
        })
    }
}
