//! The consumer pipelines its next fetch while the caller handles records; a seek made while
//! that fetch is in flight must win over its answer.

mod common;

use common::{batch_of, RawClient, TestBroker};
use kfk::client::consumer::Consumer;
use kfk::client::Properties;
use std::time::Duration;

#[test]
fn a_seek_during_a_pipelined_fetch_discards_its_stale_answer() {
    let broker = TestBroker::start();
    let mut raw = RawClient::connect(&broker.bootstrap());
    assert_eq!(raw.create_topic("seeky", 1, &[]), 0);
    for chunk in (0..300).collect::<Vec<_>>().chunks(10) {
        let values: Vec<String> = chunk.iter().map(|i| format!("m{i}")).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        assert_eq!(raw.produce("seeky", 0, batch_of(&refs, None)).0, 0);
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut p = Properties::default();
        p.set("bootstrap.servers", broker.bootstrap());
        p.set("auto.offset.reset", "earliest");
        p.set("max.poll.records", "50");
        p.set("max.partition.fetch.bytes", "600");
        let mut c = Consumer::new(&p).await.unwrap();
        let tp = ("seeky".to_string(), 0);
        c.assign(vec![tp.clone()]).await.unwrap();
        let mut first = Vec::new();
        while first.is_empty() {
            first = c.poll(Duration::from_secs(5)).await.unwrap();
        }
        assert_eq!(first[0].offset, 0);
        // That poll handed out the whole buffer, so the next fetch is already on its way.
        assert!(first.len() < 300, "a small fetch size leaves more to fetch");
        c.seek(&tp, 7);
        let mut after = Vec::new();
        while after.is_empty() {
            after = c.poll(Duration::from_secs(5)).await.unwrap();
        }
        assert_eq!(
            after[0].offset, 7,
            "the seek wins over the answer of the fetch sent before it"
        );
        assert_eq!(after[0].value.as_deref(), Some(&b"m7"[..]));
    });
}
