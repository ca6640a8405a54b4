//! Telling a returned value's outcome apart: `Result::Err` fails the call, anything else
//! succeeds; and capturing an error as [`ErrorInfo`] (message, `source()` chain, `Debug`
//! form, type) by autoref specialisation, so any error type compiles.

use std::any::Any;
use std::error::Error as StdError;
use std::fmt::{self, Debug, Display};

use crate::ErrorInfo;

/// A returned value, seen as success or error.
#[derive(Debug)]
pub enum Split<'a, T: ?Sized, E: ?Sized> {
    /// `Ok(value)`, or any value that is not a `Result`.
    Ok(&'a T),
    /// `Err(error)`.
    Err(&'a E),
}

/// Stands in for the error type of a value that is not a `Result`; it has no values.
#[derive(Debug)]
pub enum NotAnError {}

impl Display for NotAnError {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

impl StdError for NotAnError {}

/// A returned value to split; the expansion calls `(&&Probe(&value)).__history_split()`.
#[derive(Debug)]
pub struct Probe<'a, T: ?Sized>(pub &'a T);

/// Splits a `Result` (first choice).
pub trait SplitResult<'a, T, E> {
    /// The outcome.
    fn __history_split(&self) -> Split<'a, T, E>;
}

impl<'a, T, E> SplitResult<'a, T, E> for &Probe<'a, Result<T, E>> {
    #[inline]
    fn __history_split(&self) -> Split<'a, T, E> {
        match self.0 {
            Ok(v) => Split::Ok(v),
            Err(e) => Split::Err(e),
        }
    }
}

/// Any other value succeeds.
pub trait SplitPlain<'a, T: ?Sized> {
    /// The outcome.
    fn __history_split(&self) -> Split<'a, T, NotAnError>;
}

impl<'a, T: ?Sized> SplitPlain<'a, T> for Probe<'a, T> {
    #[inline]
    fn __history_split(&self) -> Split<'a, T, NotAnError> {
        Split::Ok(self.0)
    }
}

/// An error to capture; the expansion calls `(&&&&&&ErrorProbe(&e)).__history_error()`.
#[derive(Debug)]
pub struct ErrorProbe<'a, T: ?Sized>(pub &'a T);

fn from_dyn<T: ?Sized + Debug>(error: &dyn StdError, outer: &T) -> ErrorInfo {
    ErrorInfo {
        message: error.to_string(),
        kind: Some(std::any::type_name::<T>().to_owned()),
        sources: crate::event::source_chain(error),
        debug: Some(format!("{outer:?}")),
        backtrace: None,
    }
}

/// `std::error::Error` (first choice): message, source chain, `Debug`, type.
pub trait ErrorViaStd {
    /// The captured error.
    fn __history_error(&self) -> ErrorInfo;
}
impl<T: StdError> ErrorViaStd for &&&&&ErrorProbe<'_, T> {
    fn __history_error(&self) -> ErrorInfo {
        from_dyn(self.0, self.0)
    }
}

/// `AsRef<dyn Error + Send + Sync>`: `anyhow::Error`, `Box<dyn Error + Send + Sync>`.
pub trait ErrorViaAsRefSendSync {
    /// The captured error.
    fn __history_error(&self) -> ErrorInfo;
}
impl<T: AsRef<dyn StdError + Send + Sync> + Debug + ?Sized> ErrorViaAsRefSendSync
    for &&&&ErrorProbe<'_, T>
{
    fn __history_error(&self) -> ErrorInfo {
        from_dyn(self.0.as_ref(), self.0)
    }
}

/// `AsRef<dyn Error>`: `Box<dyn Error>`.
pub trait ErrorViaAsRef {
    /// The captured error.
    fn __history_error(&self) -> ErrorInfo;
}
impl<T: AsRef<dyn StdError> + Debug + ?Sized> ErrorViaAsRef for &&&ErrorProbe<'_, T> {
    fn __history_error(&self) -> ErrorInfo {
        from_dyn(self.0.as_ref(), self.0)
    }
}

/// `Display + Debug` (a `String` error, say).
pub trait ErrorViaDisplay {
    /// The captured error.
    fn __history_error(&self) -> ErrorInfo;
}
impl<T: Display + Debug + ?Sized> ErrorViaDisplay for &&ErrorProbe<'_, T> {
    fn __history_error(&self) -> ErrorInfo {
        ErrorInfo {
            message: self.0.to_string(),
            kind: Some(std::any::type_name::<T>().to_owned()),
            debug: Some(format!("{:?}", self.0)),
            ..ErrorInfo::default()
        }
    }
}

/// `Debug` only: the message is the `Debug` form.
pub trait ErrorViaDebug {
    /// The captured error.
    fn __history_error(&self) -> ErrorInfo;
}
impl<T: Debug + ?Sized> ErrorViaDebug for &ErrorProbe<'_, T> {
    fn __history_error(&self) -> ErrorInfo {
        ErrorInfo {
            message: format!("{:?}", self.0),
            kind: Some(std::any::type_name::<T>().to_owned()),
            ..ErrorInfo::default()
        }
    }
}

/// Anything else: the type name.
pub trait ErrorViaTypeName {
    /// The captured error.
    fn __history_error(&self) -> ErrorInfo;
}
impl<T: ?Sized> ErrorViaTypeName for ErrorProbe<'_, T> {
    fn __history_error(&self) -> ErrorInfo {
        let name = std::any::type_name::<T>();
        ErrorInfo {
            message: format!("an error of type {name}"),
            kind: Some(name.to_owned()),
            ..ErrorInfo::default()
        }
    }
}

/// The error recorded for a panic: kind `panic`, the panic message.
pub fn panic_error(payload: &(dyn Any + Send)) -> ErrorInfo {
    ErrorInfo::new(panic_message(payload)).with_kind("panic")
}

/// The message a panic was raised with.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panicked with a non-string payload".to_owned()
    }
}

/// The error recorded when `ok_if` / `error_if` count a returned value as a failure.
pub fn rejected_value(condition: &str) -> ErrorInfo {
    ErrorInfo::new(format!(
        "the returned value counts as a failure ({condition})"
    ))
    .with_kind(condition)
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // autoref dispatch needs the extra borrows
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("quota exceeded")
        }
    }
    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn error_capture_walks_the_chain() {
        let e = Outer(std::io::Error::other("limit 5"));
        let info = (&&&&&&ErrorProbe(&e)).__history_error();
        assert_eq!(info.message, "quota exceeded");
        assert_eq!(info.sources, vec!["limit 5".to_owned()]);
        assert!(info.kind.unwrap().ends_with("Outer"));
        assert!(info.debug.unwrap().contains("Outer"));

        let boxed: Box<dyn StdError + Send + Sync> = Box::new(Outer(std::io::Error::other("x")));
        let info = (&&&&&&ErrorProbe(&boxed)).__history_error();
        assert_eq!(info.sources, vec!["x".to_owned()]);

        let info = (&&&&&&ErrorProbe(&"plain")).__history_error();
        assert_eq!(info.message, "plain");
        struct Opaque;
        let info = (&&&&&&ErrorProbe(&Opaque)).__history_error();
        assert!(info.message.contains("Opaque"));
    }

    #[test]
    fn split_tells_results_apart() {
        let r: Result<u8, String> = Err("no".into());
        assert!(matches!((&&Probe(&r)).__history_split(), Split::Err(_)));
        assert!(matches!((&&Probe(&5u8)).__history_split(), Split::Ok(5)));
    }
}
