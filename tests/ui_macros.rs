//! Compile-time behaviour of the attributes, pinned with trybuild: every shape in
//! `ui/pass` compiles without warnings and runs; every mistake in `ui/fail` is a compile error
//! pointing at the offending token with the message in its `.stderr` file.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
