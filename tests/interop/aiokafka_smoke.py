"""aiokafka against a broker (issue 13, item 5): admin creates a topic, a producer sends keyed
records with headers (gzip), a consumer in a group reads and commits them all, the admin
describes the group and lists its offsets. Prints `OK <facts>` lines; exits non-zero on a
failure.  Usage: python3 aiokafka_smoke.py BOOTSTRAP TOPIC"""

import asyncio
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

BOOTSTRAP, TOPIC = sys.argv[1], sys.argv[2]
COUNT = 200


async def main():
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    await admin.create_topics([NewTopic(TOPIC, num_partitions=3, replication_factor=1)])
    topics = await admin.list_topics()
    assert TOPIC in topics, topics
    print("OK created", TOPIC)

    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all",
                                enable_idempotence=True, compression_type="gzip")
    await producer.start()
    sent = {}
    for i in range(COUNT):
        md = await producer.send_and_wait(TOPIC, key=f"k{i}".encode(), value=f"v{i}".encode(),
                                          headers=[("i", str(i).encode())])
        sent[(md.partition, md.offset)] = i
    await producer.stop()
    print("OK produced", len(sent))

    group = TOPIC + "-group"
    consumer = AIOKafkaConsumer(TOPIC, bootstrap_servers=BOOTSTRAP, group_id=group,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen = {}
    try:
        while len(seen) < COUNT:
            batches = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 30)
            for records in batches.values():
                for r in records:
                    i = sent[(r.partition, r.offset)]
                    assert r.key == f"k{i}".encode() and r.value == f"v{i}".encode(), r
                    assert dict(r.headers)["i"] == str(i).encode(), r.headers
                    seen[(r.partition, r.offset)] = i
        await consumer.commit()
        assignment = sorted(tp.partition for tp in consumer.assignment())
        print("OK consumed", len(seen), "assigned", ",".join(map(str, assignment)))
    finally:
        await consumer.stop()

    groups = await admin.list_consumer_groups()
    assert any(g[0] == group for g in groups), groups
    offsets = await admin.list_consumer_group_offsets(group)
    committed = sum(o.offset for o in offsets.values())
    print("OK committed", committed)
    described = await admin.describe_consumer_groups([group])
    # One DescribeGroups response: groups are (error_code, group_id, state, ...).
    g = described[0].groups[0]
    assert g[0] == 0 and g[1] == group, g
    print("OK described", g[1], g[2])
    await admin.delete_topics([TOPIC])
    await admin.close()


asyncio.run(main())
