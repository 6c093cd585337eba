"""kafka-python against a kfk broker: producer (every codec), consumer with assign and
seek_to_beginning, and KafkaAdminClient creating, describing, altering and deleting topics
and configs. Usage: python3 kafka_python_broker.py HOST:PORT. Exit 0 when every check held."""
import sys

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions, NewTopic

bootstrap = sys.argv[1]


def check(cond, what):
    if not cond:
        print("FAILED:", what)
        sys.exit(1)


admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
admin.create_topics([NewTopic("py-topic", num_partitions=3, replication_factor=1,
                              topic_configs={"retention.ms": "3600000"})])
check("py-topic" in admin.list_topics(), "created topic is listed")
described = admin.describe_topics(["py-topic"])
check(len(described[0]["partitions"]) == 3, "three partitions described: %r" % described)
configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "py-topic")])
text = repr(configs)
check("retention.ms" in text and "3600000" in text, "topic config described")
admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "py-topic", configs={"retention.ms": "7200000"})])
check("7200000" in repr(admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "py-topic")])), "altered config")
admin.create_partitions({"py-topic": NewPartitions(total_count=4)})
check(len(admin.describe_topics(["py-topic"])[0]["partitions"]) == 4, "partitions added")
broker_configs = repr(admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")], config_filter="all"))
check("log.retention.hours" in broker_configs, "broker configs described")

sent = []
for codec in [None, "gzip", "snappy", "lz4", "zstd"]:
    producer = KafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, acks="all", linger_ms=5)
    for i in range(300):
        key = ("%s-%d" % (codec, i)).encode()
        value = ("value %s %d " % (codec, i)).encode() * (1 + i % 7)
        producer.send("py-topic", key=key, value=value, partition=i % 4, headers=[("h", b"v")]).get(timeout=10)
        sent.append((i % 4, key, value))
    producer.flush(10)
    producer.close(5)

consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=3000, enable_auto_commit=False)
parts = [TopicPartition("py-topic", p) for p in range(4)]
consumer.assign(parts)
consumer.seek_to_beginning(*parts)
got = []
for msg in consumer:
    got.append((msg.partition, msg.key, msg.value))
    check(msg.headers == [("h", b"v")], "headers kept")
consumer.close()
check(len(got) == len(sent), "consumed %d of %d" % (len(got), len(sent)))
for p in range(4):
    check([g for g in got if g[0] == p] == [s for s in sent if s[0] == p], "partition %d in order, byte-identical" % p)

admin.delete_topics(["py-topic"])
check("py-topic" not in admin.list_topics(), "deleted topic is gone")
admin.close()
print("kafka-python: all checks passed (%d records)" % len(got))
