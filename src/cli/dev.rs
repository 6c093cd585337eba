//! `kfk dev cluster`: a local cluster of combined broker+controller nodes on loopback, for
//! trying things out and for tests. Formats each node's data dir (once), starts one `kfk
//! broker start` process per node, prints the bootstrap list, and stops them all (SIGTERM,
//! a controlled shutdown) on Ctrl-C or when one of them dies.

use super::CliError;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

#[derive(Args, Debug)]
#[command(
    disable_help_subcommand = true,
    after_help = "Example:\n  kfk dev cluster --nodes 3"
)]
pub struct DevArgs {
    #[command(subcommand)]
    pub command: DevCommand,
}

#[derive(Subcommand, Debug)]
pub enum DevCommand {
    /// Run a local cluster of broker+controller processes until Ctrl-C.
    #[command(
        after_help = "Examples:\n  kfk dev cluster --nodes 3\n  kfk dev cluster --nodes 3 --data-dir /tmp/kfk-cluster --port 19092"
    )]
    Cluster(ClusterArgs),
}

#[derive(Args, Debug)]
pub struct ClusterArgs {
    /// How many nodes (each a broker and a controller).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub nodes: u16,
    /// Where the nodes keep their data (node-1, node-2, ... inside).
    #[arg(long, value_name = "DIR", default_value = "kfk-dev-cluster")]
    pub data_dir: PathBuf,
    /// Client port of node 1; node i listens on PORT+i-1 for clients.
    #[arg(long, value_name = "PORT", default_value_t = 9092)]
    pub port: u16,
    /// Controller port of node 1 (node i: CONTROLLER_PORT+i-1). Default: --port + 100.
    #[arg(long, value_name = "PORT")]
    pub controller_port: Option<u16>,
    /// Prometheus metrics port of node 1 (node i: METRICS_PORT+i-1). Default: --port + 200.
    #[arg(long, value_name = "PORT")]
    pub metrics_port: Option<u16>,
    /// Set a config key on every node. Repeatable.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &self.0 {
            // SIGTERM: each node shuts down in a controlled way.
            // SAFETY: kill(2) on the pid of a child we started; no memory is involved.
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
        }
        for c in &mut self.0 {
            let _ = c.wait();
        }
    }
}

pub fn run(args: &DevArgs) -> Result<(), CliError> {
    let DevCommand::Cluster(a) = &args.command;
    if a.nodes == 0 || a.nodes > 9 {
        return Err(CliError::Usage("--nodes: between 1 and 9".into()));
    }
    let first_controller = a.controller_port.map_or(u32::from(a.port) + 100, u32::from);
    let first_metrics = a.metrics_port.map_or(u32::from(a.port) + 200, u32::from);
    for (flag, first) in [
        ("--port", u32::from(a.port)),
        ("--controller-port", first_controller),
        ("--metrics-port", first_metrics),
    ] {
        if first + u32::from(a.nodes) > 65535 {
            return Err(CliError::Usage(format!(
                "{flag}: too high for that many nodes"
            )));
        }
    }
    let port_of = |first: u32, i: u16| u16::try_from(first + u32::from(i) - 1).unwrap_or(0);
    let exe = std::env::current_exe()
        .map_err(|e| CliError::Failed(format!("cannot find the kfk binary: {e}")))?;
    let client_port = |i: u16| port_of(u32::from(a.port), i);
    let controller_port = |i: u16| port_of(first_controller, i);
    let metrics_port = |i: u16| port_of(first_metrics, i);
    let voters: Vec<String> = (1..=a.nodes)
        .map(|i| format!("{i}@127.0.0.1:{}", controller_port(i)))
        .collect();
    let cluster_id_file = a.data_dir.join("cluster.id");
    std::fs::create_dir_all(&a.data_dir)
        .map_err(|e| CliError::Failed(format!("--data-dir {}: {e}", a.data_dir.display())))?;
    let cluster_id = match std::fs::read_to_string(&cluster_id_file) {
        Ok(id) => id.trim().to_string(),
        Err(_) => {
            let id = crate::protocol::Uuid::random().to_string();
            std::fs::write(&cluster_id_file, &id)
                .map_err(|e| CliError::Failed(format!("{}: {e}", cluster_id_file.display())))?;
            id
        }
    };
    let mut children = Nodes(Vec::new());
    for i in 1..=a.nodes {
        let dir = a.data_dir.join(format!("node-{i}"));
        let mut overrides = vec![
            format!("node.id={i}"),
            "process.roles=broker,controller".to_string(),
            format!("controller.quorum.voters={}", voters.join(",")),
            format!(
                "listeners=PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
                client_port(i),
                controller_port(i)
            ),
            "controller.listener.names=CONTROLLER".into(),
            "inter.broker.listener.name=PLAINTEXT".into(),
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT".into(),
            format!("log.dirs={}", dir.display()),
            format!("kfk.metrics.listener=127.0.0.1:{}", metrics_port(i)),
        ];
        overrides.extend(a.overrides.iter().cloned());
        if !dir.join("meta.properties").exists() {
            let config = crate::broker::config::BrokerConfig::load(None, &overrides)
                .map_err(|e| CliError::Usage(format!("--override: {e}")))?;
            crate::broker::storage::format(
                &config,
                &cluster_id,
                &crate::broker::storage::InitialControllers::Static,
                true,
            )
            .map_err(CliError::Failed)?;
        }
        let mut cmd = Command::new(&exe);
        cmd.arg("broker").arg("start");
        // The nodes' start-up lines stay out of the way: warnings only, unless the user
        // asks for more with KFK_LOG.
        if std::env::var_os("KFK_LOG").is_none() && std::env::var_os("RUST_LOG").is_none() {
            cmd.env("KFK_LOG", "warn");
        }
        // A node outlives no `kfk dev cluster` that dies without stopping it.
        // SAFETY: the closure runs in the forked child before exec and only calls prctl(2),
        // which is async-signal-safe; it touches no memory of the parent.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        for o in &overrides {
            cmd.arg("--override").arg(o);
        }
        let child = cmd
            .spawn()
            .map_err(|e| CliError::Failed(format!("cannot start node {i}: {e}")))?;
        children.0.push(child);
    }
    let bootstrap: Vec<String> = (1..=a.nodes)
        .map(|i| format!("127.0.0.1:{}", client_port(i)))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))?;
    // Ready once every node is a registered, unfenced broker; a node that exits meanwhile
    // (a port in use, a bad config: its own message is above) ends the wait at once.
    let ready = runtime.block_on(wait_ready(
        &bootstrap.join(","),
        a.nodes as usize,
        &mut children,
    ));
    match ready {
        Ready::Yes => {}
        Ready::TimedOut => {
            return Err(CliError::Failed(
                "the nodes did not form a cluster within 60 s".into(),
            ))
        }
        Ready::NodeExited(i, status) => {
            return Err(CliError::Failed(format!(
                "node {i} could not start ({status}; its reason is above); stopped the others"
            )))
        }
    }
    // The metrics URLs only where the nodes serve them (an override can turn them off).
    let metrics_served = a
        .overrides
        .iter()
        .rev()
        .find_map(|o| o.strip_prefix("kfk.metrics.listener="))
        .is_none_or(|v| !v.trim().is_empty());
    println!(
        "kfk dev cluster: {} nodes, cluster.id {cluster_id}, data in {}",
        a.nodes,
        a.data_dir.display()
    );
    println!("bootstrap servers: {}", bootstrap.join(","));
    if metrics_served {
        println!(
            "metrics: {}",
            (1..=a.nodes)
                .map(|i| format!("http://127.0.0.1:{}/metrics", metrics_port(i)))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    println!("stop with Ctrl-C");
    let died = runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).ok();
        let mut int = signal(SignalKind::interrupt()).ok();
        loop {
            tokio::select! {
                _ = async { if let Some(t) = term.as_mut() { t.recv().await } else { std::future::pending().await } } => return None,
                _ = async { if let Some(t) = int.as_mut() { t.recv().await } else { std::future::pending().await } } => return None,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            for (i, c) in children.0.iter_mut().enumerate() {
                if let Ok(Some(status)) = c.try_wait() {
                    return Some((i + 1, status));
                }
            }
        }
    });
    drop(children);
    match died {
        Some((i, status)) => Err(CliError::Failed(format!(
            "node {i} stopped ({status}); stopped the others"
        ))),
        None => {
            eprintln!("kfk dev cluster: stopped");
            Ok(())
        }
    }
}

/// How the wait for the cluster ended.
enum Ready {
    Yes,
    TimedOut,
    /// Node (1-based) exited with this status before the cluster formed.
    NodeExited(usize, std::process::ExitStatus),
}

/// Polls Metadata until it lists `n` brokers (60 s at most), or a node exits.
async fn wait_ready(bootstrap: &str, n: usize, nodes: &mut Nodes) -> Ready {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        for (i, c) in nodes.0.iter_mut().enumerate() {
            if let Ok(Some(status)) = c.try_wait() {
                return Ready::NodeExited(i + 1, status);
            }
        }
        let mut props = crate::client::Properties::default();
        props.set("bootstrap.servers", bootstrap);
        if let Ok(config) = props.client_config("kfk-dev-cluster") {
            let cluster = crate::client::cluster::Cluster::new(config);
            let admin = crate::client::admin::GroupAdmin::new(cluster);
            if let Ok(Ok(m)) =
                tokio::time::timeout(Duration::from_secs(2), admin.metadata(Some(Vec::new()))).await
            {
                if m.brokers.len() >= n {
                    return Ready::Yes;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ready::TimedOut
}
