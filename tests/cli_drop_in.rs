//! Invoked through a link named after one of Kafka's scripts, `kfk` acts as that tool.

use std::process::Command;

#[test]
fn links_named_after_kafka_scripts_run_their_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    for (link, usage) in [
        ("kafka-console-producer.sh", "Usage: kfk console-producer"),
        ("kafka-console-consumer", "Usage: kfk console-consumer"),
        ("kafka-consumer-groups.sh", "Usage: kfk consumer-groups"),
        ("kafka-dump-log.sh", "Usage: kfk dump-log"),
    ] {
        let path = dir.path().join(link);
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kfk"), &path).unwrap();
        let out = Command::new(&path).arg("--help").output().unwrap();
        assert!(out.status.success(), "{link}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(usage), "{link}: {text}");
    }
    // A bad flag through a link: one line naming it, exit 2.
    let path = dir.path().join("kafka-consumer-groups.sh");
    let out = Command::new(&path).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--bogus"), "{err}");
}

/// Issue 25 item 6: linked as `kafka-server-start.sh`, the binary starts a broker from the
/// properties file given as its argument, with Kafka's `--override property=value`; a Kafka
/// script name kfk does not provide says so.
#[test]
fn kafka_server_start_takes_the_properties_file_and_overrides() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("kafka-server-start.sh");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kfk"), &link).unwrap();
    let props = dir.path().join("server.properties");
    std::fs::write(
        &props,
        format!(
            "listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs={}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(&link)
        .arg(&props)
        .args(["--override", "node.id=7"])
        .env("KFK_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in stderr.by_ref().map_while(Result::ok) {
        let listening = line.contains("listening on 127.0.0.1:");
        seen.push(line);
        if listening {
            break;
        }
    }
    // Keep reading: a broker whose stderr is closed cannot log its shutdown.
    let rest = std::thread::spawn(move || stderr.map_while(Result::ok).collect::<Vec<_>>());
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    seen.extend(rest.join().unwrap());
    assert!(
        seen.iter()
            .any(|l| l.contains("node.id 7") && l.contains("listening on 127.0.0.1:")),
        "{seen:#?}"
    );
    assert!(status.success(), "{seen:#?}");
    assert!(dir.path().join("data/meta.properties").exists());

    let out = Command::new(&link).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("USAGE: kafka-server-start.sh"));

    let acls = dir.path().join("kafka-acls.sh");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kfk"), &acls).unwrap();
    let out = Command::new(&acls).arg("--list").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "kfk does not provide kafka-acls; see kfk --help\n"
    );
}
