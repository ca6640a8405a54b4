//! Procedural macros for the `history` crate: `#[track_history]` and `#[track_terraform]`.
//!
//! Use them through `history` (`use history::track_history;`), which documents every
//! argument with examples. Arguments are parsed in `attr`, checked in `valid` (against each
//! other and the function), the names the function binds are found in `bind`, and the code
//! is generated in `expand`; the generated code calls only `history::__private::v2`, a
//! hidden module whose name changes whenever what it offers does, so a `history-macros`
//! that does not match its `history` fails to compile instead of misbehaving (`history`
//! also pins this crate to its exact version).

mod attr;
mod bind;
mod expand;
mod secret_names;
mod valid;

use proc_macro::TokenStream;
use syn::parse::Parser;

use attr::{Args, Kind};

/// Records every call of the function as a `history::Event`. See `history::track_history`.
#[proc_macro_attribute]
pub fn track_history(args: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::History, args, item)
}

/// Records every call of a function that runs Terraform. See `history::track_terraform`.
#[proc_macro_attribute]
pub fn track_terraform(args: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Terraform, args, item)
}

fn run(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let parsed = (|input: syn::parse::ParseStream<'_>| Args::parse(kind, input)).parse(args);
    let result = parsed.and_then(|args| expand::expand(kind, args, item.clone()));
    match result {
        Ok(ts) => ts.into(),
        // Keep the function as written, so one mistake gives one error, not a cascade.
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(item);
            out.into()
        }
    }
}
