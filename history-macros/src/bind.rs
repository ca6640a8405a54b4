//! The names a function's arguments bind, which the attribute captures as parameters and its
//! arguments may name (`skip(...)`, `user_id = ...`).
//!
//! `#[async_trait]` expands before this attribute and replaces a pattern argument
//! (`(user, password): (&str, &str)`) by a positional one (`__arg1`), destructured again
//! inside the future it builds. The pattern is found there and bound by reference beside the
//! capture, so the call records `user` and `password` by their own names (and redacts the
//! secret), never the positional argument with the secret inside.

use proc_macro2::TokenStream;
use quote::quote;
use syn::visit_mut::VisitMut;
use syn::{Expr, ExprAsync, FnArg, Ident, Pat, Signature, Stmt};

/// A name an argument binds.
pub(crate) struct Binding {
    pub ident: Ident,
    pub name: String,
    /// A positional argument whose pattern could not be found: never captured with its
    /// content (it may hold a secret under another name).
    pub opaque: bool,
}

/// Everything the arguments bind.
pub(crate) struct Bound {
    pub bindings: Vec<Binding>,
    pub has_self: bool,
    /// `let <pattern> = &__argN;` for each positional argument of an `#[async_trait]` method,
    /// to run where the capture runs.
    pub rebind: Vec<TokenStream>,
}

/// The names `sig` binds; `async_trait` is the future `#[async_trait]` built, if it did.
pub(crate) fn of(sig: &Signature, async_trait: Option<&ExprAsync>) -> Bound {
    let mut bound = Bound {
        bindings: Vec::new(),
        has_self: false,
        rebind: Vec::new(),
    };
    for input in &sig.inputs {
        let pt = match input {
            FnArg::Receiver(_) => {
                bound.has_self = true;
                continue;
            }
            FnArg::Typed(pt) => pt,
        };
        if let (Some(future), Pat::Ident(p)) = (async_trait, &*pt.pat) {
            if is_positional(&p.ident) {
                match destructured(future, &p.ident) {
                    Some(pat) => {
                        let mut pat = pat.clone();
                        ByReference.visit_pat_mut(&mut pat);
                        collect(&pat, &mut bound.bindings);
                        let ident = &p.ident;
                        bound.rebind.push(quote!(let #pat = &#ident;));
                    }
                    None => bound.bindings.push(Binding {
                        ident: p.ident.clone(),
                        name: unraw(&p.ident),
                        opaque: true,
                    }),
                }
                continue;
            }
        }
        collect(&pt.pat, &mut bound.bindings);
    }
    bound
}

/// `__arg0`, `__arg1`, ...: the names `#[async_trait]` gives pattern arguments.
fn is_positional(ident: &Ident) -> bool {
    ident
        .to_string()
        .strip_prefix("__arg")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The pattern of `let <pattern> = { let __argN = __argN; __argN };` in the future.
fn destructured<'a>(future: &'a ExprAsync, positional: &Ident) -> Option<&'a Pat> {
    future.block.stmts.iter().find_map(|stmt| {
        let Stmt::Local(local) = stmt else {
            return None;
        };
        let init = local.init.as_ref()?;
        let Expr::Block(block) = &*init.expr else {
            return None;
        };
        match block.block.stmts.last() {
            Some(Stmt::Expr(Expr::Path(path), None)) if path.path.is_ident(positional) => {
                Some(&local.pat)
            }
            _ => None,
        }
    })
}

/// Makes a pattern bind by reference when matched against a reference: `mut x` and
/// `ref x` become `x`.
struct ByReference;

impl VisitMut for ByReference {
    fn visit_pat_ident_mut(&mut self, p: &mut syn::PatIdent) {
        p.mutability = None;
        p.by_ref = None;
        syn::visit_mut::visit_pat_ident_mut(self, p);
    }
}

fn collect(pat: &Pat, out: &mut Vec<Binding>) {
    match pat {
        Pat::Ident(p) => {
            if let Some((_, sub)) = &p.subpat {
                collect(sub, out);
            }
            let name = unraw(&p.ident);
            if name == "self" {
                return;
            }
            out.push(Binding {
                ident: p.ident.clone(),
                name,
                opaque: false,
            });
        }
        Pat::Tuple(t) => t.elems.iter().for_each(|p| collect(p, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| collect(p, out)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| collect(&f.pat, out)),
        Pat::Reference(r) => collect(&r.pat, out),
        Pat::Slice(s) => s.elems.iter().for_each(|p| collect(p, out)),
        Pat::Paren(p) => collect(&p.pat, out),
        Pat::Type(t) => collect(&t.pat, out),
        // `A | B` binds the same names in each alternative.
        Pat::Or(o) => {
            if let Some(first) = o.cases.first() {
                collect(first, out);
            }
        }
        _ => {}
    }
}

/// An identifier without its `r#`.
pub(crate) fn unraw(ident: &syn::Ident) -> String {
    let name = ident.to_string();
    match name.strip_prefix("r#") {
        Some(bare) => bare.to_owned(),
        None => name,
    }
}
