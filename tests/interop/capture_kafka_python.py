"""Drives kafka-python against `xtask capture` so its request frames can be stored as golden
fixtures: opening ApiVersions/Metadata, Produce in every codec with keys and headers, Fetch
and JoinGroup. Usage: python3 capture_kafka_python.py HOST:PORT"""
import sys
import time

from kafka import KafkaConsumer, KafkaProducer

bootstrap = sys.argv[1]
for codec in [None, "gzip", "snappy", "lz4", "zstd"]:
    producer = KafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, linger_ms=50,
                             enable_idempotence=False, acks=1)
    for i in range(1, 4):
        producer.send("golden", key=b"k%d" % i, value=(b"golden-%d" % i) * 20, headers=[("h1", b"v1")],
                      partition=0)
    producer.flush(10)
    producer.close(5)

consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, consumer_timeout_ms=1500,
                         auto_offset_reset="earliest")
from kafka import TopicPartition
tp = TopicPartition("golden", 0)
consumer.assign([tp])
consumer.seek_to_beginning(tp)
for _ in consumer:
    pass
consumer.close()

group = KafkaConsumer("golden", bootstrap_servers=bootstrap, group_id="capture-group",
                      consumer_timeout_ms=3000)
try:
    for _ in group:
        pass
except Exception as e:  # the stand-in never answers JoinGroup
    print("group:", e)
group.close(autocommit=False)
