// Shapes a macro easily gets wrong compile without a single warning.
#![deny(warnings)]

use history::{track_history, track_terraform, EventType};

#[track_history(event_type = "stub")]
pub fn stub() {
    todo!()
}

#[track_history(event_type = "fatal")]
pub fn fatal(code: i32) -> ! {
    std::process::exit(code)
}

#[track_history(event_type = "spin")]
pub fn spin() {
    loop {
        std::thread::park();
    }
}

#[track_history(event_type = "spin_async")]
pub async fn spin_async() {
    loop {
        std::future::pending::<()>().await;
    }
}

macro_rules! tracked {
    ($name:ident, $arg:ident, $label:expr) => {
        #[track_history(event_type = EventType::VmCreate, user_id = $arg, labels(from = $label), ok_if = |v: &u64| *v > 0)]
        pub fn $name($arg: u64) -> u64 {
            $arg
        }
    };
}

tracked!(made_by_macro, owner, "macro");

pub mod shadow {
    pub struct Foo;

    pub mod bar {
        pub enum Bar {
            Foo,
        }
    }

    #[history::track_history(event_type = "shadow")]
    pub fn make() -> Foo {
        #[allow(unused_imports)]
        use bar::Bar::*;
        let _ = Foo;
        super::shadow::Foo
    }
}

#[track_terraform(command = cmd, working_dir = dir)]
pub fn execute(cmd: &str, dir: &str) -> Result<(), std::io::Error> {
    let _ = (cmd, dir);
    Ok(())
}

fn main() {
    let _ = made_by_macro(1);
    let _ = shadow::make();
    let _ = execute("plan", "/tmp");
    if std::env::args().count() > 100 {
        stub();
        spin();
        let _ = spin_async();
        fatal(1);
    }
}
