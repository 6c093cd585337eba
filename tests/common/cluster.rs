//! A cluster of `kfk broker` processes on 127.0.0.1 for tests: combined broker+controller
//! nodes with their own data dirs (formatted with `kfk storage format`), fixed loopback
//! ports picked free at the start, and faults a test can inject (kill -9, SIGTERM,
//! SIGSTOP/SIGCONT).

use super::RawClient;
use kfk::protocol::messages::describe_cluster_request::DescribeClusterRequest;
use kfk::protocol::messages::metadata_request::MetadataRequest;
use kfk::protocol::messages::metadata_response::MetadataResponse;
use kfk::protocol::{ApiKey, RequestBody, ResponseBody};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Topic name → (topic id, [(partition, leader)]).
pub type TopicsView = std::collections::BTreeMap<String, (String, Vec<(i32, i32)>)>;

pub struct Node {
    pub id: i32,
    /// `process.roles`.
    pub roles: String,
    pub client_port: u16,
    /// The Prometheus endpoint (`kfk.metrics.listener`).
    pub metrics_port: u16,
    /// The node's data dir (`log.dirs`).
    pub dir: PathBuf,
    pub controller_port: u16,
    pub config: PathBuf,
    child: Option<Child>,
    pub log: Arc<Mutex<Vec<String>>>,
}

pub struct TestCluster {
    pub nodes: Vec<Node>,
    pub cluster_id: String,
    /// With `start_with_links`: the proxy of each directed link (from, to) between
    /// controllers.
    pub links: std::collections::BTreeMap<(i32, i32), super::proxy::LinkProxy>,
    /// With `start_with_links`: the proxy in front of each broker's inter-broker listener
    /// (REPLICATION), which other nodes' follower fetches go through.
    pub data_links: std::collections::BTreeMap<i32, super::proxy::NodeProxy>,
    /// Node id → pid of its running process (the data proxies tell nodes apart by it).
    pids: super::proxy::NodePids,
    /// With `start_on_small_disks`: the data dirs mounted as size-limited tmpfs (a disk the
    /// test can fill), unmounted on drop.
    mounts: Vec<PathBuf>,
    _tmp: tempfile::TempDir,
    /// One cluster at a time per test process: the timing bounds the tests check (fencing,
    /// failover) mean nothing with several clusters fighting for two cores.
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

static ONE_CLUSTER: Mutex<()> = Mutex::new(());

thread_local! {
    /// Ports handed out by `free_port` stay bound until the cluster is built, so no two
    /// nodes get the same one.
    static HELD: std::cell::RefCell<Vec<std::net::TcpListener>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    HELD.with(|h| h.borrow_mut().push(l));
    port
}

fn release_ports() {
    HELD.with(|h| h.borrow_mut().clear());
}

fn kfk() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kfk"))
}

impl TestCluster {
    /// `n` combined nodes with `extra` config lines (key=value) on every node.
    pub fn start(n: usize, extra: &[&str]) -> TestCluster {
        let roles = vec!["broker,controller"; n];
        Self::start_inner(&roles, extra, false, false, None)
    }

    /// `n` combined nodes of a dynamic quorum (`controller.quorum.bootstrap.servers`
    /// naming node 1): node 1 is formatted `--standalone` and starts as the only voter; the
    /// others are formatted `--no-initial-controllers` and join as brokers (observers of the
    /// quorum) until added with `kfk metadata-quorum add-controller`.
    pub fn start_dynamic(n: usize, extra: &[&str]) -> TestCluster {
        let roles = vec!["broker,controller"; n];
        Self::start_inner(&roles, extra, false, true, None)
    }

    /// One node per entry of `roles` (`process.roles` values): the controllers are the
    /// voters; broker-only nodes follow the metadata log.
    pub fn start_roles(roles: &[&str], extra: &[&str]) -> TestCluster {
        Self::start_inner(roles, extra, false, false, None)
    }

    /// As [`start`], but every node reaches every other node's controller listener through
    /// a [`super::proxy::LinkProxy`], and other brokers' inter-broker listener (REPLICATION,
    /// where followers fetch) through a [`super::proxy::NodeProxy`]: links the test can cut
    /// (`cut_link`, `isolate`). Clients reach the PLAINTEXT listeners directly.
    pub fn start_with_links(n: usize, extra: &[&str]) -> TestCluster {
        let roles = vec!["broker,controller"; n];
        Self::start_inner(&roles, extra, true, false, None)
    }

    /// As [`start`], each node's data dir a tmpfs of `megabytes` (root only: `mount`), so a
    /// test can fail a node's disk by filling it ([`fill_disk`]). `None` after printing
    /// `SKIPPED <test>: needs mount (root)` when mounting is not allowed, or a failure with
    /// `KFK_REQUIRE_INTEROP=1`.
    pub fn start_on_small_disks(
        test: &str,
        n: usize,
        megabytes: u32,
        extra: &[&str],
    ) -> Option<TestCluster> {
        let probe = tempfile::tempdir().expect("temp dir");
        if !mount_tmpfs(probe.path(), 1) {
            if std::env::var("KFK_REQUIRE_INTEROP").as_deref() == Ok("1") {
                panic!(
                    "{test}: needs to mount a tmpfs (root), which failed (KFK_REQUIRE_INTEROP=1)"
                );
            }
            println!("SKIPPED {test}: needs mount (root)");
            return None;
        }
        unmount(probe.path());
        let roles = vec!["broker,controller"; n];
        Some(Self::start_inner(
            &roles,
            extra,
            false,
            false,
            Some(megabytes),
        ))
    }

    /// Fills node `id`'s data dir (a tmpfs of [`start_on_small_disks`]) so that its next
    /// writes fail with "no space left on device": a failing disk.
    pub fn fill_disk(&self, id: i32) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.node(id).dir.join("filler")).expect("filler");
        let chunk = vec![0u8; 1 << 16];
        while f.write_all(&chunk).is_ok() {}
        // The last partial page too.
        while f.write_all(&chunk[..512]).is_ok() {}
        let _ = f.flush();
    }

    /// Removes what [`fill_disk`] wrote.
    pub fn free_disk(&self, id: i32) {
        std::fs::remove_file(self.node(id).dir.join("filler")).expect("remove filler");
    }

    /// Whether node `id`'s process has exited by itself (then it is reaped: `start_node`
    /// starts it again).
    pub fn exited(&mut self, id: i32) -> bool {
        let n = self.node_mut(id);
        let gone = n
            .child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_some());
        if gone {
            n.child = None;
        }
        gone
    }

    /// Cuts both directions between `a` and `b`.
    pub fn cut_link(&self, a: i32, b: i32) {
        self.links[&(a, b)].cut();
        self.links[&(b, a)].cut();
        if let Some(p) = self.data_links.get(&b) {
            p.cut_from(a);
        }
        if let Some(p) = self.data_links.get(&a) {
            p.cut_from(b);
        }
    }

    /// Cuts every link of `node`.
    pub fn isolate(&self, node: i32) {
        for other in self.nodes.iter().map(|n| n.id).filter(|o| *o != node) {
            self.cut_link(node, other);
        }
    }

    /// Heals every link.
    pub fn heal_all(&self) {
        for l in self.links.values() {
            l.heal();
        }
        for p in self.data_links.values() {
            p.heal();
        }
    }

    fn start_inner(
        roles: &[&str],
        extra: &[&str],
        proxied: bool,
        dynamic: bool,
        tmpfs_megabytes: Option<u32>,
    ) -> TestCluster {
        let n = roles.len();
        let guard = ONE_CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
        let tmp = tempfile::tempdir().expect("temp dir");
        let out = kfk()
            .args(["storage", "random-uuid"])
            .output()
            .expect("random-uuid");
        let cluster_id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let ports: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let metrics_ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let mut links = std::collections::BTreeMap::new();
        let pids = super::proxy::NodePids::default();
        let mut mounts = Vec::new();
        // With links: each broker's REPLICATION listener port and the proxy in front of it.
        let mut data_links = std::collections::BTreeMap::new();
        let mut replication_ports = std::collections::BTreeMap::new();
        if proxied {
            for (i, _) in roles
                .iter()
                .enumerate()
                .filter(|(_, r)| r.contains("broker"))
            {
                let id = i as i32 + 1;
                let port = free_port();
                let target = format!("127.0.0.1:{port}");
                replication_ports.insert(id, port);
                data_links.insert(id, super::proxy::NodeProxy::start(target, pids.clone()));
            }
            for a in 1..=n as i32 {
                for b in (1..=n as i32).filter(|b| *b != a) {
                    let target = format!("127.0.0.1:{}", ports[(b - 1) as usize].1);
                    links.insert((a, b), super::proxy::LinkProxy::start(target));
                }
            }
        }
        let mut nodes = Vec::new();
        for (i, (client, controller)) in ports.iter().enumerate() {
            let id = i as i32 + 1;
            // How this node reaches each controller: itself directly, the others through
            // their link proxies when there are some.
            let voters: Vec<String> = ports
                .iter()
                .enumerate()
                .filter(|(j, _)| roles[*j].contains("controller"))
                .map(|(j, p)| {
                    let to = j as i32 + 1;
                    let port = links
                        .get(&(id, to))
                        .map_or(p.1, |l: &super::proxy::LinkProxy| l.port);
                    format!("{to}@127.0.0.1:{port}")
                })
                .collect();
            let dir = tmp.path().join(format!("node-{id}"));
            if let Some(mb) = tmpfs_megabytes {
                std::fs::create_dir_all(&dir).expect("data dir");
                assert!(mount_tmpfs(&dir, mb), "mount a tmpfs on {}", dir.display());
                mounts.push(dir.clone());
            }
            let mut lines = vec![
                format!("node.id={id}"),
                format!("process.roles={}", roles[i]),
                if dynamic {
                    format!("controller.quorum.bootstrap.servers=127.0.0.1:{}", ports[0].1)
                } else {
                    format!("controller.quorum.voters={}", voters.join(","))
                },
                match (roles[i].contains("broker"), roles[i].contains("controller")) {
                    (true, true) => format!(
                        "listeners=PLAINTEXT://127.0.0.1:{client},CONTROLLER://127.0.0.1:{controller}"
                    ),
                    (true, false) => format!("listeners=PLAINTEXT://127.0.0.1:{client}"),
                    _ => format!("listeners=CONTROLLER://127.0.0.1:{controller}"),
                },
                "controller.listener.names=CONTROLLER".into(),
                "inter.broker.listener.name=PLAINTEXT".into(),
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,REPLICATION:PLAINTEXT".into(),
                format!("log.dirs={}", dir.display()),
                "broker.heartbeat.interval.ms=500".into(),
                format!("kfk.metrics.listener=127.0.0.1:{}", metrics_ports[i]),
                "broker.session.timeout.ms=3000".into(),
            ];
            if !roles[i].contains("broker") {
                lines.retain(|l| !l.starts_with("inter.broker.listener.name"));
            }
            if let Some(port) = replication_ports.get(&id) {
                let proxy = data_links[&id].port;
                for l in lines.iter_mut() {
                    if l.starts_with("listeners=") {
                        l.push_str(&format!(",REPLICATION://127.0.0.1:{port}"));
                    } else if l.starts_with("inter.broker.listener.name=") {
                        *l = "inter.broker.listener.name=REPLICATION".into();
                    }
                }
                lines.push(format!(
                    "advertised.listeners=PLAINTEXT://127.0.0.1:{client},REPLICATION://127.0.0.1:{proxy}"
                ));
            }
            // `{id}` in an extra line stands for the node's id (per-node values: racks).
            lines.extend(extra.iter().map(|s| s.replace("{id}", &id.to_string())));
            let config = tmp.path().join(format!("node-{id}.properties"));
            std::fs::write(&config, lines.join("\n") + "\n").expect("write config");
            let st = kfk()
                .args([
                    "storage",
                    "format",
                    &format!("--cluster-id={cluster_id}"),
                    "-c",
                ])
                .arg(&config)
                .args(match (dynamic, id) {
                    (false, _) => &[][..],
                    (true, 1) => &["--standalone"][..],
                    (true, _) => &["--no-initial-controllers"][..],
                })
                .output()
                .expect("format");
            assert!(
                st.status.success(),
                "format: {}",
                String::from_utf8_lossy(&st.stderr)
            );
            nodes.push(Node {
                id,
                roles: roles[i].to_string(),
                client_port: *client,
                metrics_port: metrics_ports[i],
                dir: dir.clone(),
                controller_port: *controller,
                config,
                child: None,
                log: Arc::new(Mutex::new(Vec::new())),
            });
        }
        release_ports();
        let mut c = TestCluster {
            nodes,
            cluster_id,
            links,
            data_links,
            pids,
            mounts,
            _tmp: tmp,
            _one_at_a_time: guard,
        };
        for i in 1..=n as i32 {
            c.start_node(i);
        }
        let brokers = roles.iter().filter(|r| r.contains("broker")).count();
        c.wait_for_brokers(brokers, Duration::from_secs(30));
        c
    }

    pub fn node(&self, id: i32) -> &Node {
        &self.nodes[(id - 1) as usize]
    }

    fn node_mut(&mut self, id: i32) -> &mut Node {
        &mut self.nodes[(id - 1) as usize]
    }

    pub fn start_node(&mut self, id: i32) {
        let n = self.node_mut(id);
        assert!(n.child.is_none(), "node {id} runs already");
        let mut cmd = kfk();
        cmd.args(["broker", "start", "--config"]).arg(&n.config);
        cmd.env(
            "KFK_LOG",
            std::env::var("KFK_TEST_LOG").unwrap_or_else(|_| "info,openraft=warn".into()),
        );
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start kfk broker");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        n.log = log;
        let pid = child.id() as i32;
        n.child = Some(child);
        self.pids.lock().unwrap().insert(id, pid);
    }

    pub fn bootstrap(&self, id: i32) -> String {
        format!("127.0.0.1:{}", self.node(id).client_port)
    }

    pub fn bootstrap_all(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn pid(&self, id: i32) -> i32 {
        self.node(id).child.as_ref().map_or(0, |c| c.id() as i32)
    }

    pub fn kill9(&mut self, id: i32) {
        if let Some(mut c) = self.node_mut(id).child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM (a controlled shutdown) and wait.
    pub fn stop(&mut self, id: i32) {
        if let Some(mut c) = self.node_mut(id).child.take() {
            // SAFETY: signalling our own child process.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }

    pub fn signal(&self, id: i32, sig: i32) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.pid(id), sig) };
    }

    /// The text of node `id`'s `GET /metrics`.
    pub fn scrape(&self, id: i32) -> String {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.node(id).metrics_port))
        else {
            return String::new();
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    pub fn log_contains(&self, id: i32, text: &str) -> bool {
        self.node(id)
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(text))
    }

    /// How many lines of node `id`'s log contain `text`.
    pub fn log_count(&self, id: i32, text: &str) -> usize {
        self.node(id)
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(text))
            .count()
    }

    /// Metadata (all topics) from node `id`, or `None` when it does not answer.
    pub fn metadata(&self, id: i32) -> Option<MetadataResponse> {
        let addr = self.bootstrap(id);
        let run = move || {
            let mut c = RawClient::connect(&addr);
            c.call(
                ApiKey::Metadata,
                12,
                RequestBody::Metadata(MetadataRequest {
                    topics: None,
                    ..Default::default()
                }),
            )
        };
        match std::panic::catch_unwind(run) {
            Ok(ResponseBody::Metadata(m)) => Some(m),
            _ => None,
        }
    }

    /// The active controller as node `id` reports it (DescribeCluster).
    pub fn controller_seen_by(&self, id: i32) -> Option<i32> {
        let addr = self.bootstrap(id);
        let run = move || {
            let mut c = RawClient::connect(&addr);
            c.call(
                ApiKey::DescribeCluster,
                0,
                RequestBody::DescribeCluster(DescribeClusterRequest::default()),
            )
        };
        match std::panic::catch_unwind(run) {
            Ok(ResponseBody::DescribeCluster(r)) if r.controller_id >= 0 => Some(r.controller_id),
            _ => None,
        }
    }

    /// Waits until node 1..n (those running) list `n` brokers.
    pub fn wait_for_brokers(&self, n: usize, timeout: Duration) {
        let ok = wait_until(timeout, || {
            self.nodes
                .iter()
                .filter(|node| node.child.is_some() && node.roles.contains("broker"))
                .all(|node| self.metadata(node.id).is_some_and(|m| m.brokers.len() == n))
        });
        if !ok {
            for node in &self.nodes {
                let log = node.log.lock().unwrap().clone();
                eprintln!(
                    "--- node {}\n{}",
                    node.id,
                    log[log.len().saturating_sub(10)..].join("\n")
                );
            }
        }
        assert!(
            ok,
            "the cluster did not list {n} brokers within {timeout:?}"
        );
    }

    /// Topic name → (topic id, [(partition, leader)]) as node `id` sees it.
    pub fn topics_seen_by(&self, id: i32) -> Option<TopicsView> {
        let m = self.metadata(id)?;
        Some(
            m.topics
                .into_iter()
                .filter_map(|t| {
                    let mut parts: Vec<(i32, i32)> = t
                        .partitions
                        .iter()
                        .map(|p| (p.partition_index, p.leader_id))
                        .collect();
                    parts.sort();
                    Some((t.name?, (t.topic_id.to_string(), parts)))
                })
                .collect(),
        )
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        for dir in &self.mounts {
            unmount(dir);
        }
    }
}

/// Mounts a tmpfs of `megabytes` on `dir`; false when not allowed.
fn mount_tmpfs(dir: &std::path::Path, megabytes: u32) -> bool {
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn unmount(dir: &std::path::Path) {
    let _ = Command::new("umount").arg(dir).status();
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
