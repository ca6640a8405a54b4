//! Code generation, from arguments `valid` has checked. The generated code only calls
//! `<history>::__private::v2` (`<history>` is `::history` unless `crate = path` says
//! otherwise); see that module for what each call does.
//!
//! Hygiene: every local the expansion introduces (`__history_*`) has the attribute's own
//! span, and a user's expression keeps its span but never carries one of those locals, so a
//! tracked fn written by `macro_rules!` (arguments from macro parameters) resolves both.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Block, Error, Expr, ExprAsync, Ident, Item, ItemFn, Result, ReturnType, Stmt, Type};

use crate::attr::{Args, EventTypeArg, Kind};
use crate::bind::{self, Bound};
use crate::secret_names::is_secret_name;
use crate::valid::{self, Checked, TerraformCommand};

/// Reads the item the attribute is on. Something that is not a function gets that said; a
/// function syn cannot read gets syn's own error, not a different message.
fn parse_fn(item: TokenStream) -> Result<ItemFn> {
    syn::parse2::<ItemFn>(item.clone()).map_err(|error| {
        let not_a_fn = match syn::parse2::<Item>(item.clone()) {
            Ok(Item::Fn(_)) => false,
            Ok(_) => true,
            Err(_) => syn::parse2::<syn::TraitItemFn>(item).is_ok(),
        };
        if not_a_fn {
            Error::new(
                Span::call_site(),
                "this attribute goes on a function with a body (`fn`, `async fn`, or a method)",
            )
        } else {
            error
        }
    })
}

pub(crate) fn expand(kind: Kind, args: Args, item: TokenStream) -> Result<TokenStream> {
    let mut func = parse_fn(item)?;
    let async_trait = async_trait_body(&mut func.block).map(|future| future.clone());
    let bound = bind::of(&func.sig, async_trait.as_ref());
    let checked = valid::check(kind, &args, &func.sig, &bound.bindings, bound.has_self)?;
    let krate = match &args.krate {
        Some(path) => path.to_token_stream(),
        None => quote!(::history),
    };
    let gen = Gen {
        p: quote!(#krate::__private::v2),
        krate,
        args: &args,
        checked,
    };
    let start = gen.start_call(&func.sig, &bound);
    let outcome = gen.outcome();

    if let Some(inner) = async_trait_body(&mut func.block) {
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
    }

    // The body stays a block of its own: a name it brings into scope (`use Enum::*;`)
    // cannot change what the return type written in the signature means.
    let block = &func.block;
    let body = if func.sig.asyncness.is_some() {
        let hint = return_type_hint(&func.sig.output);
        quote! {
            #start
            let __history_result = __history_call
                .run_async(async move { #hint #block })
                .await;
            #outcome
            __history_result
        }
    } else if is_never(&func.sig.output) {
        // `-> !`: the start is recorded, and a panic; there is no value to record.
        quote! {
            #start
            __history_call.run(move || -> () { #block });
            ::core::unreachable!("a function returning `!` returned")
        }
    } else {
        let hint = return_type_hint(&func.sig.output);
        quote! {
            #start
            let __history_result = __history_call.run(move || { #hint #block });
            #outcome
            __history_result
        }
    };
    let stmts = syn::parse2::<Block>(quote!({ #body }))?.stmts;
    func.block.stmts = stmts;
    Ok(func.into_token_stream())
}

fn is_never(output: &ReturnType) -> bool {
    matches!(output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)))
}

/// The generator of one attribute.
struct Gen<'a> {
    /// The path of the `history` crate.
    krate: TokenStream,
    /// The path of its versioned hidden runtime module.
    p: TokenStream,
    args: &'a Args,
    checked: Checked<'a>,
}

/// Whether `name` is one of the function's arguments.
fn bare_ident(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident().map(bind::unraw),
        Expr::Reference(r) => bare_ident(&r.expr),
        Expr::Paren(p) => bare_ident(&p.expr),
        _ => None,
    }
}

/// Whether `Self` appears in the signature (then the operation name includes the type).
fn mentions_self(sig: &syn::Signature) -> bool {
    fn walk(ts: TokenStream) -> bool {
        ts.into_iter().any(|tt| match tt {
            proc_macro2::TokenTree::Ident(i) => i == "Self" || i == "self",
            proc_macro2::TokenTree::Group(g) => walk(g.stream()),
            _ => false,
        })
    }
    walk(sig.inputs.to_token_stream()) || walk(sig.output.to_token_stream())
}

impl Gen<'_> {
    /// `let mut __history_call = ...;`: picks the recorder, captures the parameters, builds
    /// the event and records it in progress.
    fn start_call(&self, sig: &syn::Signature, bound: &Bound) -> TokenStream {
        let (p, krate, args) = (&self.p, &self.krate, self.args);
        let fn_name = bind::unraw(&sig.ident);

        let mut command_setup = quote!();
        let event_type = match (&self.checked.command, &args.event_type) {
            (Some(TerraformCommand::Known(c)), _) => {
                let v = Ident::new(c.variant(), Span::call_site());
                quote!(#krate::EventType::#v)
            }
            (Some(TerraformCommand::AtRunTime(e)), _) => {
                let of = quote_spanned!(e.span()=> #p::terraform::Command::of(&(#e)));
                command_setup = quote!(let __history_command = #of;);
                quote!(__history_command.event_type())
            }
            (None, Some(EventTypeArg::Expr(e))) => quote_spanned!(e.span()=> #p::event_type(#e)),
            (None, Some(EventTypeArg::Custom(lit))) => quote!(#p::custom_type(#lit)),
            (None, _) => match &self.checked.default_event_type {
                Some(lit) => quote!(#p::custom_type(#lit)),
                // `valid` refused this already.
                None => quote!(::core::unreachable!()),
            },
        };

        let static_op = quote!(::core::concat!(::core::module_path!(), "::", #fn_name));
        // A constant name is passed as `&'static str`: the event borrows it, no copy per call.
        let operation = if let Some(op) = &args.operation {
            quote!(#op)
        } else if bound.has_self || mentions_self(sig) {
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

        let params = self.params(bound);
        let ids = self.ids();
        let rebind = bound.rebind.iter().map(|r| {
            quote! {
                #[allow(unused_variables, clippy::toplevel_ref_arg)]
                #r
            }
        });
        let terraform = self.checked.command.is_some();
        let backtrace = args.backtrace;
        let durability = Ident::new(self.checked.durability, Span::call_site());
        // The span bridge: a `tracing` span per call, whose callsite is this function's own
        // (`history` decides whether the macro makes one).
        let span = if args.no_span {
            quote!()
        } else {
            let name = syn::LitStr::new(&fn_name, Span::call_site());
            quote!(#p::call_span!(__history_starting, #name);)
        };
        let command_note = match &self.checked.command {
            Some(TerraformCommand::AtRunTime(_)) => {
                quote!(__history_command.note_unknown(__history_event);)
            }
            _ => quote!(),
        };
        quote! {
            #[allow(unused_mut)]
            let mut __history_call = {
                #(#rebind)*
                match #recorder {
                    ::core::option::Option::None => #p::Call::disabled(),
                    ::core::option::Option::Some(__history_recorder) => {
                        #[allow(unused_imports)]
                        use #p::prelude::*;
                        #command_setup
                        // Captured under the recorder's redaction policy and size caps.
                        let __history_parameters = #params;
                        // Built in place in the call: the event is not moved on its way there.
                        let mut __history_starting = #p::Call::begin(
                            __history_recorder,
                            #event_type,
                            #operation,
                            __history_parameters,
                            #p::Options {
                                terraform: #terraform,
                                backtrace: #backtrace,
                                durability: #krate::Durability::#durability,
                            },
                        );
                        {
                            #[allow(unused_variables)]
                            let __history_event = __history_starting.event_mut();
                            #command_note
                            #(#ids)*
                        }
                        #span
                        __history_starting.start()
                    }
                }
            };
        }
    }

    /// The parameters object.
    fn params(&self, bound: &Bound) -> TokenStream {
        let (p, args) = (&self.p, self.args);
        let mut captures = Vec::new();
        let mut taken: Vec<String> = Vec::new();
        match &self.checked.command {
            Some(TerraformCommand::Known(c)) => {
                let name = c.name();
                captures
                    .push(quote!(#p::write_str(__history_params.field("\"command\":"), #name);));
            }
            Some(TerraformCommand::AtRunTime(e)) => {
                taken.extend(bare_ident(e));
                captures.push(quote! {
                    #p::write_str(
                        __history_params.field("\"command\":"),
                        __history_command.name(),
                    );
                });
            }
            None => {}
        }
        if let Some(wd) = &args.working_dir {
            taken.extend(bare_ident(wd));
            let value = quote_spanned!(wd.span()=> (&&&#p::Capture(&(#wd))));
            captures.push(quote! {
                #value.__history_capture(__history_params.field("\"working_dir\":"));
            });
        }
        if let Some(vars) = &args.variables {
            taken.extend(bare_ident(vars));
            let sensitive = &args.sensitive;
            let write = quote_spanned!(vars.span()=> #p::terraform::write_variables);
            let value = quote_spanned!(vars.span()=> &(#vars));
            captures.push(quote! {
                #write(__history_params.field("\"variables\":"), #value, &[#(#sensitive),*]);
            });
        }
        if args.capture_self.is_some() {
            captures.push(quote! {
                (&&&#p::Capture(&self)).__history_capture(__history_params.field("\"self\":"));
            });
        }
        if !args.skip_all {
            for b in &bound.bindings {
                if args.skipped().any(|s| bind::unraw(s) == b.name) || taken.contains(&b.name) {
                    continue;
                }
                let key = format!("\"{}\":", b.name);
                let name = &b.name;
                let forced = b.opaque || args.redacted().any(|r| bind::unraw(r) == b.name);
                let by_name = is_secret_name(&b.name);
                let ident = &b.ident;
                // A redacted value is remembered, to be scrubbed from the rest of the event.
                let redacted = quote! {
                    __history_params.redacted(#key);
                    (&&&&#p::Redacted(&#ident)).__history_remember(__history_params.secrets());
                };
                if forced {
                    captures.push(redacted);
                } else {
                    // The recorder's policy may extend or narrow the default names.
                    captures.push(quote! {
                        if __history_params.redacts(#name, false, #by_name) {
                            #redacted
                        } else {
                            (&&&#p::Capture(&#ident))
                                .__history_capture(__history_params.field(#key));
                        }
                    });
                }
            }
        }
        if captures.is_empty() {
            quote!(#p::Params::none())
        } else {
            quote! {{
                let mut __history_params = #p::Params::new(&__history_recorder);
                #(#captures)*
                __history_params.finish()
            }}
        }
    }

    /// Sets the ids and labels on `__history_event`.
    fn ids(&self) -> Vec<TokenStream> {
        let (p, args) = (&self.p, self.args);
        let mut ids = Vec::new();
        for (field, expr) in [
            ("user_id", &args.user_id),
            ("vm_id", &args.vm_id),
            ("credential_id", &args.credential_id),
            ("organization_id", &args.organization_id),
        ] {
            if let Some(e) = expr {
                let field = Ident::new(field, Span::call_site());
                let value = quote_spanned!(e.span()=> (&&#p::Subject(&(#e))).__history_subject());
                ids.push(quote!(__history_event.#field = #value;));
            }
        }
        if let Some(e) = &args.correlation_id {
            let value = quote_spanned!(e.span()=> (&&&#p::Text(&(#e))).__history_text());
            ids.push(quote!(__history_event.correlation_id = #value;));
        }
        for l in &args.labels {
            let (key, value) = (&l.key, &l.value);
            let value = quote_spanned!(value.span()=> (&&&#p::Text(&(#value))).__history_text());
            ids.push(quote! {
                if let ::core::option::Option::Some(__history_label) = #value {
                    __history_event
                        .labels
                        .insert(::std::string::String::from(#key), __history_label);
                }
            });
        }
        ids
    }

    /// Records the outcome held in `__history_result`.
    fn outcome(&self) -> TokenStream {
        let (p, args) = (&self.p, self.args);
        let json = if args.result.is_some() {
            quote!(::core::option::Option::None)
        } else {
            quote!(::core::option::Option::Some(__history_call.capture(|__history_out| {
                (&&&#p::Capture(__history_value)).__history_capture(__history_out)
            })))
        };
        let mut checks = Vec::new();
        if let Some(ok_if) = &args.ok_if {
            let check = quote_spanned!(ok_if.span()=> #p::check);
            checks.push(quote! {
                if !#check(&__history_result, #ok_if) {
                    ::core::option::Option::Some("ok_if")
                } else
            });
        }
        if let Some(error_if) = &args.error_if {
            let check = quote_spanned!(error_if.span()=> #p::check);
            checks.push(quote! {
                if #check(&__history_result, #error_if) {
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
}

/// `if let Some(r) = None::<Ret> { return r; }`: fixes the type of the closure or async
/// block the body moves into to the declared return type, so `?`, `.into()` and coercions in
/// the body see it (`impl Trait` becomes `_`), as `async-trait` does.
fn return_type_hint(output: &ReturnType) -> TokenStream {
    let mut ty = match output {
        ReturnType::Type(_, ty) => (**ty).clone(),
        // A body that only diverges (a `todo` or `panic` macro call) still returns `()`.
        ReturnType::Default => syn::parse_quote!(()),
    };
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
