//! A TCP proxy a test puts on one directed link between two nodes (A reaches B's controller
//! listener through it), so the test can cut the link and heal it: a cut closes every open
//! connection and drops new ones at once.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub struct LinkProxy {
    pub port: u16,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl LinkProxy {
    /// A proxy on 127.0.0.1 (a free port) forwarding to `target`.
    pub fn start(target: String) -> LinkProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (cut2, open2) = (cut.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if cut2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                {
                    let mut o = open2.lock().unwrap();
                    o.push(client.try_clone().expect("clone"));
                    o.push(server.try_clone().expect("clone"));
                }
                pump_both(client, server);
            }
        });
        LinkProxy { port, cut, open }
    }

    /// Cuts the link: open connections close, new ones are dropped.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    pub fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// Which test node a process is: node id → its current pid (updated on every restart).
pub type NodePids = Arc<Mutex<std::collections::BTreeMap<i32, i32>>>;

/// A proxy's open connections: (source node, the two sockets).
type OpenConnections = Arc<Mutex<Vec<(Option<i32>, TcpStream, TcpStream)>>>;

/// A proxy in front of one node's inter-broker listener, shared by every other node (they
/// all reach it through the one advertised address). It tells the nodes apart by the process
/// owning the connecting socket (`/proc/net/tcp` and `/proc/<pid>/fd`), so a test can cut
/// the data link from one chosen node: its open connections close and new ones are dropped,
/// while the other nodes and the test's clients pass.
pub struct NodeProxy {
    pub port: u16,
    cut_from: Arc<Mutex<std::collections::BTreeSet<i32>>>,
    /// Open connections: (source node, the two sockets).
    open: OpenConnections,
}

impl NodeProxy {
    pub fn start(target: String, pids: NodePids) -> NodeProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let cut_from: Arc<Mutex<std::collections::BTreeSet<i32>>> = Arc::default();
        let open: OpenConnections = Arc::default();
        let (cut2, open2) = (cut_from.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let source = client
                    .peer_addr()
                    .ok()
                    .and_then(|a| node_of_socket(a.port(), port, &pids));
                if source.is_some_and(|s| cut2.lock().unwrap().contains(&s)) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                open2.lock().unwrap().push((
                    source,
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                ));
                pump_both(client, server);
            }
        });
        NodeProxy {
            port,
            cut_from,
            open,
        }
    }

    /// Cuts what `source` sends to this node: its open connections close, new ones drop.
    pub fn cut_from(&self, source: i32) {
        self.cut_from.lock().unwrap().insert(source);
        self.open.lock().unwrap().retain(|(s, a, b)| {
            if *s == Some(source) {
                let _ = a.shutdown(Shutdown::Both);
                let _ = b.shutdown(Shutdown::Both);
                false
            } else {
                true
            }
        });
    }

    pub fn heal(&self) {
        self.cut_from.lock().unwrap().clear();
    }
}

/// Copies bytes both ways between `client` and `server` until either side closes.
fn pump_both(client: TcpStream, server: TcpStream) {
    for (mut from, mut to) in [
        (
            client.try_clone().expect("clone"),
            server.try_clone().expect("clone"),
        ),
        (server, client),
    ] {
        std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
        });
    }
}

/// The node whose process owns the loopback socket `127.0.0.1:local_port` connected to
/// `127.0.0.1:remote_port`, if it is one of `pids`.
fn node_of_socket(local_port: u16, remote_port: u16, pids: &NodePids) -> Option<i32> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!("0100007F:{local_port:04X}");
    let remote = format!("0100007F:{remote_port:04X}");
    let inode = table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() > 9 && f[1] == local && f[2] == remote).then(|| f[9].to_string())
    })?;
    let wanted = format!("socket:[{inode}]");
    let pids = pids.lock().unwrap().clone();
    pids.into_iter().find_map(|(node, pid)| {
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
        fds.flatten()
            .any(|fd| {
                std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == wanted.as_str())
            })
            .then_some(node)
    })
}
