//! Shared helpers for black-box tests: a `kfk broker` child process on 127.0.0.1 port 0
//! with a temporary data dir, and the `KFK_REQUIRE_INTEROP` rule for third-party tools.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A broker process started by a test; killed when dropped.
pub struct TestBroker {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub log: Arc<Mutex<Vec<String>>>,
    extra: Vec<String>,
}

impl TestBroker {
    /// A broker on a fresh temporary data dir.
    pub fn start() -> TestBroker {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> TestBroker {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("data");
        let mut b = Self::spawn(dir, extra.iter().map(|s| s.to_string()).collect());
        b._tmp = Some(tmp);
        b
    }

    fn spawn(dir: PathBuf, extra: Vec<String>) -> TestBroker {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kfk"));
        cmd.args([
            "broker",
            "start",
            "--listeners",
            "PLAINTEXT://127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&dir)
        .args(&extra);
        cmd.env(
            "KFK_LOG",
            std::env::var("KFK_TEST_LOG").unwrap_or_else(|_| "warn".into()),
        );
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start kfk broker");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on 127.0.0.1:").nth(1) {
                    let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let _ = tx.send(port.parse::<u16>().unwrap_or(0));
                }
                sink.lock().unwrap().push(line);
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("broker did not start: {:?}", log.lock().unwrap()));
        TestBroker {
            child: Some(child),
            port,
            dir,
            _tmp: None,
            log,
            extra,
        }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// SIGTERM and wait: a clean shutdown.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling our own child process.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let status = child.wait().expect("wait");
            assert!(
                status.success(),
                "broker exited with {status}: {:?}",
                self.log.lock().unwrap()
            );
        }
    }

    /// SIGKILL: the process dies without any shutdown work.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a broker again on the same data dir (after `stop` or `kill9`).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop or kill the broker first");
        let mut again = Self::spawn(self.dir.clone(), self.extra.clone());
        self.port = again.port;
        self.log = again.log.clone();
        self.child = again.child.take();
    }

    /// The broker's resident set size in KiB (from /proc).
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    pub fn is_alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The path of a third-party tool, or `None` after printing `SKIPPED <test>: needs <tool>`;
/// with `KFK_REQUIRE_INTEROP=1` a missing tool fails the test instead.
pub fn require_tool(test: &str, tool: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("KFK_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("{test}: needs {tool}, which is not installed (KFK_REQUIRE_INTEROP=1)");
        }
        println!("SKIPPED {test}: needs {tool}");
    }
    found
}

/// Whether `python3 -c "import <module>"` works; same skip/fail rule as [`require_tool`].
pub fn require_python_module(test: &str, module: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("KFK_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("{test}: needs the Python module {module} (KFK_REQUIRE_INTEROP=1)");
        }
        println!("SKIPPED {test}: needs python3 -m {module}");
    }
    ok
}

/// Runs a command with stdin bytes; returns (stdout, stderr, exit code). Killed and failed
/// after `timeout`.
pub fn run_with_input(
    program: &Path,
    args: &[&str],
    input: &[u8],
    timeout: Duration,
) -> (Vec<u8>, String, i32) {
    use std::io::{Read, Write};
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            let err = err_reader.join().unwrap_or_default();
            panic!(
                "{} {args:?} did not finish within {timeout:?}: {}",
                program.display(),
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    (
        out,
        String::from_utf8_lossy(&err).into_owned(),
        status.code().unwrap_or(-1),
    )
}
