//! A `moto` server (the AWS API emulator from PyPI) on 127.0.0.1 for one test, and
//! the Python scripts that build and read the emulated account.
//!
//! `.ci/run` installs moto into a venv and sets `TRAILGUARD_MOTO_SERVER` to its
//! `moto_server` (and `TRAILGUARD_REQUIRE_MOTO=1`, so that a missing server fails the
//! run instead of skipping). Each test starts its own server on a free port and
//! stops it when done.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// moto's `moto_server` with werkzeug's server made single-threaded (it then also
/// speaks HTTP/1.0, one request per connection, so clients take turns).
const SERIAL_SERVER: &str = "\
import sys, moto.server, werkzeug.serving
def run_simple(*args, **kwargs):
    kwargs['threaded'] = False
    return werkzeug.serving.run_simple(*args, **kwargs)
moto.server.run_simple = run_simple
moto.server.main(sys.argv[1:])
";

pub struct Moto {
    child: Child,
    pub endpoint: String,
    pub python: PathBuf,
    pub dir: tempfile::TempDir,
}

fn find_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TRAILGUARD_MOTO_SERVER") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("moto_server"))
            .find(|p| p.is_file())
    })
}

impl Moto {
    /// Starts a server, or returns `None` (after saying so) when moto is not
    /// installed and not required.
    pub fn start(env: &[(&str, &str)]) -> Option<Moto> {
        Self::launch(env, false)
    }

    /// A server that answers one request at a time, as DynamoDB applies conditional
    /// writes and transactions to an item atomically. moto's threaded server does
    /// not: two requests can interleave between a condition's check and its write,
    /// and a cancelled transaction restores the whole table as it was before it
    /// began, undoing what another request wrote meanwhile. Tests of concurrent
    /// writers use this one (their requests still interleave, one by one).
    pub fn start_serial(env: &[(&str, &str)]) -> Option<Moto> {
        Self::launch(env, true)
    }

    fn launch(env: &[(&str, &str)], serial: bool) -> Option<Moto> {
        let Some(server) = find_server() else {
            if std::env::var_os("TRAILGUARD_REQUIRE_MOTO").is_some() {
                panic!("TRAILGUARD_REQUIRE_MOTO is set but no moto_server was found (TRAILGUARD_MOTO_SERVER or PATH)");
            }
            eprintln!(
                "SKIPPED: moto_server not found (pip install 'moto[server]', or run bash .ci/run)"
            );
            return None;
        };
        let python = server.parent().unwrap().join("python");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("moto.log")).unwrap();
        let mut cmd = if serial {
            let mut c = Command::new(&python);
            c.args(["-c", SERIAL_SERVER]);
            c
        } else {
            Command::new(&server)
        };
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("moto_server starts");
        let until = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "moto_server exited ({status}): {}",
                    std::fs::read_to_string(dir.path().join("moto.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < until,
                "moto_server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            python,
            dir,
        })
    }

    pub fn script(name: &str) -> PathBuf {
        // The scripts live beside this file; it is also included by other crates of
        // the workspace (`#[path]`), whose manifests are its siblings.
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../trailguard/tests/moto")
            .join(name)
    }

    /// Runs one of `tests/moto/*.py` with the venv's Python; returns its stdout.
    pub fn python(&self, script: &str, args: &[&str]) -> String {
        let out = Command::new(&self.python)
            .arg(Self::script(script))
            .arg(&self.endpoint)
            .args(args)
            .output()
            .expect("the venv's python runs");
        assert!(
            out.status.success(),
            "{script} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
