//! Code generation. The generated code only calls `::history::__private`; see that module
//! for what each call does.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{
    Block, Error, Expr, ExprAsync, FnArg, Ident, ItemFn, Pat, Result, ReturnType, Signature, Stmt,
    Type,
};

use crate::attr::{is_secret_name, Args, Command, DurabilityArg, EventTypeArg, Kind};

/// An argument the function binds.
struct Binding {
    ident: Ident,
    name: String,
}

pub(crate) fn expand(kind: Kind, args: Args, item: TokenStream) -> Result<TokenStream> {
    let mut func: ItemFn = syn::parse2(item.clone()).map_err(|_| {
        Error::new(
            Span::call_site(),
            "this attribute goes on a function with a body (`fn`, `async fn`, or a method)",
        )
    })?;
    check_signature(&func.sig)?;

    let (bindings, has_self) = bindings(&func.sig)?;
    check_names(&args, &bindings, has_self)?;

    let start = start_call(kind, &args, &func.sig, &bindings, has_self)?;
    let outcome = outcome(&args);

    let body = if func.sig.asyncness.is_some() {
        let trick = return_type_hint(&func.sig.output);
        let stmts = &func.block.stmts;
        quote! {
            #start
            let __history_result = __history_call
                .run_async(async move { #trick #(#stmts)* })
                .await;
            #outcome
            __history_result
        }
    } else if let Some(inner) = async_trait_body(&mut func.block) {
        // `#[async_trait]` has already turned `async fn` into `fn` returning
        // `Box::pin(async move { .. })`: instrument the future it builds.
        let original = inner.clone();
        *inner = syn::parse_quote! {
            async move {
                #start
                let __history_result = __history_call.run_async(#original).await;
                #outcome
                __history_result
            }
        };
        return Ok(func.into_token_stream());
    } else {
        let trick = return_type_hint(&func.sig.output);
        let stmts = &func.block.stmts;
        quote! {
            #start
            let __history_result = __history_call.run(move || { #trick #(#stmts)* });
            #outcome
            __history_result
        }
    };
    let block: Block = syn::parse2(quote!({ #body }))?;
    *func.block = block;
    Ok(func.into_token_stream())
}

fn check_signature(sig: &Signature) -> Result<()> {
    if let Some(c) = &sig.constness {
        return Err(Error::new(
            c.span,
            "a `const fn` cannot be tracked: recording an event is not possible in const \
             evaluation; remove `const` or the attribute",
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(Error::new(
            abi.extern_token.span,
            "an `extern` fn cannot be tracked: a panic could not be recorded and resumed across \
             the foreign ABI; track a Rust function it calls instead",
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(Error::new(v.span(), "a variadic fn cannot be tracked"));
    }
    Ok(())
}

/// Every name the arguments bind, in order, and whether there is a `self`.
fn bindings(sig: &Signature) -> Result<(Vec<Binding>, bool)> {
    let mut out = Vec::new();
    let mut has_self = false;
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(_) => has_self = true,
            FnArg::Typed(pt) => collect_pat(&pt.pat, &mut out),
        }
    }
    Ok((out, has_self))
}

fn collect_pat(pat: &Pat, out: &mut Vec<Binding>) {
    match pat {
        Pat::Ident(p) => {
            if let Some((_, sub)) = &p.subpat {
                collect_pat(sub, out);
            }
            let name = p.ident.to_string();
            let name = name.strip_prefix("r#").unwrap_or(&name).to_owned();
            if name == "self" {
                return;
            }
            out.push(Binding {
                ident: p.ident.clone(),
                name,
            });
        }
        Pat::Tuple(t) => t.elems.iter().for_each(|p| collect_pat(p, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| collect_pat(p, out)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| collect_pat(&f.pat, out)),
        Pat::Reference(r) => collect_pat(&r.pat, out),
        Pat::Slice(s) => s.elems.iter().for_each(|p| collect_pat(p, out)),
        Pat::Paren(p) => collect_pat(&p.pat, out),
        Pat::Type(t) => collect_pat(&t.pat, out),
        // `A | B` binds the same names in each alternative.
        Pat::Or(o) => {
            if let Some(first) = o.cases.first() {
                collect_pat(first, out);
            }
        }
        _ => {}
    }
}

fn check_names(args: &Args, bindings: &[Binding], has_self: bool) -> Result<()> {
    for (list, what) in [(&args.skip, "skip"), (&args.redact, "redact")] {
        for ident in list {
            let name = ident.to_string();
            let name = name.strip_prefix("r#").unwrap_or(&name);
            let known = bindings.iter().any(|b| b.name == name) || (has_self && name == "self");
            if !known {
                let names: Vec<&str> = bindings.iter().map(|b| b.name.as_str()).collect();
                return Err(Error::new(
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
    }
    if args.capture_self && !has_self {
        return Err(Error::new(
            Span::call_site(),
            "`capture_self` is given but the function takes no `self`",
        ));
    }
    Ok(())
}

/// Whether `Self` appears in the signature (then the operation name includes the type).
fn mentions_self(sig: &Signature) -> bool {
    fn walk(ts: TokenStream) -> bool {
        ts.into_iter().any(|tt| match tt {
            proc_macro2::TokenTree::Ident(i) => i == "Self" || i == "self",
            proc_macro2::TokenTree::Group(g) => walk(g.stream()),
            _ => false,
        })
    }
    walk(sig.inputs.to_token_stream()) || walk(sig.output.to_token_stream())
}

/// The argument a bare-identifier expression names, if any.
fn bare_ident(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident().map(|i| i.to_string()),
        Expr::Reference(r) => bare_ident(&r.expr),
        Expr::Paren(p) => bare_ident(&p.expr),
        _ => None,
    }
}

fn start_call(
    kind: Kind,
    args: &Args,
    sig: &Signature,
    bindings: &[Binding],
    has_self: bool,
) -> Result<TokenStream> {
    let fn_name = sig.ident.to_string();
    let fn_name = fn_name.strip_prefix("r#").unwrap_or(&fn_name).to_owned();
    let p = quote!(::history::__private);

    let command = match kind {
        Kind::Terraform => Some(match args.command {
            Some((c, _)) => c,
            None => Command::infer(&fn_name).ok_or_else(|| {
                Error::new(
                    sig.ident.span(),
                    format!(
                        "cannot infer the Terraform command from the name `{fn_name}`; add \
                         command = \"init\" | \"plan\" | \"apply\" | \"destroy\""
                    ),
                )
            })?,
        }),
        Kind::History => None,
    };

    let event_type = match (command, &args.event_type) {
        (Some(c), _) => {
            let v = Ident::new(c.variant(), Span::call_site());
            quote!(::history::EventType::#v)
        }
        (None, Some(EventTypeArg::Expr(e))) => {
            quote_spanned!(e.span()=> #p::event_type(#e))
        }
        (None, Some(EventTypeArg::Custom(lit))) => quote!(#p::custom_type(#lit)),
        (None, None) => {
            let name = fn_name.to_ascii_lowercase();
            let lit = syn::LitStr::new(&name, sig.ident.span());
            crate::attr::validate_custom_type(&lit).map_err(|_| {
                Error::new(
                    sig.ident.span(),
                    "cannot use the function name as the event type; add event_type = ...",
                )
            })?;
            quote!(#p::custom_type(#lit))
        }
    };

    let static_op = quote!(::core::concat!(::core::module_path!(), "::", #fn_name));
    // A constant name is passed as `&'static str`: the event borrows it, no copy per call.
    let operation = if let Some(op) = &args.operation {
        quote!(#op)
    } else if has_self || mentions_self(sig) {
        quote!(#p::operation(
            ::core::module_path!(),
            ::core::option::Option::Some(::core::any::type_name::<Self>()),
            #fn_name,
        ))
    } else {
        quote!(#static_op)
    };

    let recorder = match &args.recorder {
        Some(r) => quote_spanned!(r.span()=> #p::explicit_recorder(&(#r))),
        None => quote!(#p::default_recorder(#static_op)),
    };

    // Parameters.
    let mut captures = Vec::new();
    if let Some(c) = command {
        let name = c.name();
        captures.push(quote!(#p::write_str(__history_params.field("\"command\":"), #name);));
    }
    let mut taken: Vec<String> = Vec::new();
    if let Some(wd) = &args.working_dir {
        taken.extend(bare_ident(wd));
        captures.push(quote! {
            (&&&#p::Capture(&(#wd))).__history_capture(__history_params.field("\"working_dir\":"));
        });
    }
    if let Some(vars) = &args.variables {
        taken.extend(bare_ident(vars));
        let sensitive = &args.sensitive;
        captures.push(quote_spanned! {vars.span()=>
            #p::terraform::write_variables(
                __history_params.field("\"variables\":"),
                &(#vars),
                &[#(#sensitive),*],
            );
        });
    }
    if args.capture_self {
        captures.push(quote! {
            (&&&#p::Capture(&self)).__history_capture(__history_params.field("\"self\":"));
        });
    }
    if !args.skip_all {
        for b in bindings {
            if args.skip.iter().any(|s| s == b.name.as_str())
                || taken.contains(&b.ident.to_string())
            {
                continue;
            }
            let key = format!("\"{}\":", b.name);
            let redact =
                args.redact.iter().any(|r| r == b.name.as_str()) || is_secret_name(&b.name);
            if redact {
                captures.push(quote!(__history_params.redacted(#key);));
            } else {
                let ident = &b.ident;
                captures.push(quote! {
                    (&&&#p::Capture(&#ident)).__history_capture(__history_params.field(#key));
                });
            }
        }
    }
    let params = if captures.is_empty() {
        quote!(#p::Params::none())
    } else {
        quote! {{
            let mut __history_params = #p::Params::new();
            #(#captures)*
            __history_params.finish()
        }}
    };

    // Ids and labels.
    let mut ids = Vec::new();
    for (field, expr) in [
        ("user_id", &args.user_id),
        ("vm_id", &args.vm_id),
        ("credential_id", &args.credential_id),
        ("organization_id", &args.organization_id),
    ] {
        if let Some(e) = expr {
            let field = Ident::new(field, Span::call_site());
            ids.push(quote_spanned! {e.span()=>
                __history_event.#field = (&&#p::Subject(&(#e))).__history_subject();
            });
        }
    }
    if let Some(e) = &args.correlation_id {
        ids.push(quote_spanned! {e.span()=>
            __history_event.correlation_id = (&&&#p::Text(&(#e))).__history_text();
        });
    }
    for l in &args.labels {
        let (key, value) = (&l.key, &l.value);
        ids.push(quote_spanned! {value.span()=>
            if let ::core::option::Option::Some(__history_label) =
                (&&&#p::Text(&(#value))).__history_text()
            {
                __history_event
                    .labels
                    .insert(::std::string::String::from(#key), __history_label);
            }
        });
    }

    let terraform = command.is_some();
    let backtrace = args.backtrace;
    let durability = Ident::new(
        args.durability.unwrap_or(DurabilityArg::Buffered).variant(),
        Span::call_site(),
    );
    Ok(quote! {
        #[allow(unused_mut)]
        let mut __history_call = match #recorder {
            ::core::option::Option::None => #p::Call::disabled(),
            ::core::option::Option::Some(__history_recorder) => {
                #[allow(unused_imports)]
                use #p::prelude::*;
                // Built in place in the call: the event is not moved on its way there.
                let mut __history_starting = #p::Call::begin(
                    __history_recorder,
                    #event_type,
                    #operation,
                    #params,
                    #p::Options {
                        terraform: #terraform,
                        backtrace: #backtrace,
                        durability: ::history::Durability::#durability,
                    },
                );
                {
                    #[allow(unused_variables)]
                    let __history_event = __history_starting.event_mut();
                    #(#ids)*
                }
                __history_starting.start()
            }
        };
    })
}

/// Records the outcome held in `__history_result`.
fn outcome(args: &Args) -> TokenStream {
    let p = quote!(::history::__private);
    let json = if args.skip_result {
        quote!(::core::option::Option::None)
    } else {
        quote!(::core::option::Option::Some(#p::json_of(|__history_out| {
            (&&&#p::Capture(__history_value)).__history_capture(__history_out)
        })))
    };
    let mut checks = Vec::new();
    if let Some(ok_if) = &args.ok_if {
        checks.push(quote_spanned! {ok_if.span()=>
            if !#p::check(&__history_result, #ok_if) {
                ::core::option::Option::Some("ok_if")
            } else
        });
    }
    if let Some(error_if) = &args.error_if {
        checks.push(quote_spanned! {error_if.span()=>
            if #p::check(&__history_result, #error_if) {
                ::core::option::Option::Some("error_if")
            } else
        });
    }
    let on_ok = if checks.is_empty() {
        quote! {
            let _ = __history_value;
            __history_call.succeed(#json);
        }
    } else {
        quote! {
            let __history_json = #json;
            let __history_rejected: ::core::option::Option<&'static str> =
                #(#checks)* { ::core::option::Option::None };
            match __history_rejected {
                ::core::option::Option::Some(__history_why) => __history_call.fail(
                    #p::rejected_value(__history_why),
                    __history_json,
                ),
                ::core::option::Option::None => __history_call.succeed(__history_json),
            }
        }
    };
    quote! {
        if __history_call.is_active() {
            #[allow(unused_imports)]
            use #p::prelude::*;
            match (&&#p::Probe(&__history_result)).__history_split() {
                #p::Split::Ok(__history_value) => { #on_ok }
                #p::Split::Err(__history_error) => __history_call.fail(
                    (&&&&&&#p::ErrorProbe(__history_error)).__history_error(),
                    ::core::option::Option::None,
                ),
            }
        }
    }
}

/// `if let Some(r) = None::<Ret> { return r; }`: fixes the type of the closure or async
/// block the body moves into to the declared return type, so `?`, `.into()` and coercions in
/// the body see it (`impl Trait` becomes `_`), as `async-trait` does.
fn return_type_hint(output: &ReturnType) -> TokenStream {
    let ReturnType::Type(_, ty) = output else {
        return quote!();
    };
    let mut ty = (**ty).clone();
    ImplToInfer.visit_type_mut(&mut ty);
    quote! {
        if let ::core::option::Option::Some(__history_ret) = ::core::option::Option::None::<#ty> {
            #[allow(unreachable_code)]
            return __history_ret;
        }
    }
}

struct ImplToInfer;

impl VisitMut for ImplToInfer {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(it) = ty {
            *ty = Type::Infer(syn::TypeInfer {
                underscore_token: syn::Token![_](it.impl_token.span),
            });
            return;
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

/// The `async move { .. }` of a body `#[async_trait]` produced: `Box::pin(async move { .. })`.
fn async_trait_body(block: &mut Block) -> Option<&mut ExprAsync> {
    let [Stmt::Expr(Expr::Call(call), None)] = block.stmts.as_mut_slice() else {
        return None;
    };
    let Expr::Path(path) = &*call.func else {
        return None;
    };
    let segs: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let n = segs.len();
    if n < 2 || segs[n - 1] != "pin" || segs[n - 2] != "Box" || call.args.len() != 1 {
        return None;
    }
    match call.args.first_mut() {
        Some(Expr::Async(a)) if a.capture.is_some() => Some(a),
        _ => None,
    }
}
