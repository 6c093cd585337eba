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
    /// Client port of node 1; node i listens on PORT+i-1 for clients, on PORT+100+i-1
    /// for controllers and serves Prometheus metrics on PORT+200+i-1.
    #[arg(long, value_name = "PORT", default_value_t = 9092)]
    pub port: u16,
    /// Set a config key on every node. Repeatable.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &self.0 {
            // SIGTERM: each node shuts down in a controlled way.
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
    if u32::from(a.port) + 200 + u32::from(a.nodes) > 65535 {
        return Err(CliError::Usage(
            "--port: too high for that many nodes".into(),
        ));
    }
    let exe = std::env::current_exe()
        .map_err(|e| CliError::Failed(format!("cannot find the kfk binary: {e}")))?;
    let client_port = |i: u16| a.port + i - 1;
    let controller_port = |i: u16| a.port + 100 + i - 1;
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
            format!("kfk.metrics.listener=127.0.0.1:{}", a.port + 200 + i - 1),
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
        // A node outlives no `kfk dev cluster` that dies without stopping it.
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
    // Ready once every node is a registered, unfenced broker.
    let ready = runtime.block_on(wait_ready(&bootstrap.join(","), a.nodes as usize));
    if !ready {
        return Err(CliError::Failed(
            "the nodes did not form a cluster within 60 s".into(),
        ));
    }
    println!(
        "kfk dev cluster: {} nodes, cluster.id {cluster_id}, data in {}",
        a.nodes,
        a.data_dir.display()
    );
    println!("bootstrap servers: {}", bootstrap.join(","));
    println!(
        "metrics: {}",
        (1..=a.nodes)
            .map(|i| format!("http://127.0.0.1:{}/metrics", a.port + 200 + i - 1))
            .collect::<Vec<_>>()
            .join(" ")
    );
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

/// Polls Metadata until it lists `n` brokers (60 s at most).
async fn wait_ready(bootstrap: &str, n: usize) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let mut props = crate::client::Properties::default();
        props.set("bootstrap.servers", bootstrap);
        if let Ok(config) = props.client_config("kfk-dev-cluster") {
            let cluster = crate::client::cluster::Cluster::new(config);
            let admin = crate::client::admin::GroupAdmin::new(cluster);
            if let Ok(Ok(m)) =
                tokio::time::timeout(Duration::from_secs(2), admin.metadata(Some(Vec::new()))).await
            {
                if m.brokers.len() >= n {
                    return true;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}
