"""kafka-python as a fault-test workload. Usage:
  python3 kafka_python_failover.py HOST:PORT[,...] TOPIC
Produces each line of stdin (key = value = the line) with an idempotent acks=all producer and
prints "ACK value partition offset" or "FAIL value error" per record as its callback runs; at
the end of stdin flushes and exits."""
import sys
import threading

from kafka import KafkaProducer

bootstrap, topic = sys.argv[1:3]
out = threading.Lock()


def say(line):
    with out:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


producer = KafkaProducer(
    bootstrap_servers=bootstrap.split(","),
    acks="all",
    enable_idempotence=True,
    linger_ms=5,
    request_timeout_ms=5000,
    delivery_timeout_ms=120000,
    retry_backoff_ms=100,
    metadata_max_age_ms=1000,
)
for line in sys.stdin:
    v = line.rstrip("\n")
    f = producer.send(topic, key=v.encode(), value=v.encode())
    f.add_callback(lambda md, v=v: say("ACK %s %d %d" % (v, md.partition, md.offset)))
    f.add_errback(lambda e, v=v: say("FAIL %s %r" % (v, e)))
producer.flush(130)
producer.close(10)
