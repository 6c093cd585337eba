"""kafka-python on one side of kfk's console tools. Usage:
  python3 kafka_python_console.py produce HOST:PORT TOPIC CODEC   (lines "key\\tvalue" from stdin)
  python3 kafka_python_console.py consume HOST:PORT TOPIC COUNT   (prints "key:value" lines)"""
import sys

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

mode, bootstrap, topic, arg = sys.argv[1:5]
if mode == "produce":
    codec = None if arg == "none" else arg
    producer = KafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, acks="all", linger_ms=5)
    for line in sys.stdin.read().splitlines():
        key, value = line.split("\t", 1)
        producer.send(topic, key=key.encode(), value=value.encode(), partition=0)
    producer.flush(30)
    producer.close(10)
else:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=5000, enable_auto_commit=False)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    count = 0
    out = []
    for msg in consumer:
        out.append("%s:%s" % (msg.key.decode(), msg.value.decode()))
        count += 1
        if count >= int(arg):
            break
    consumer.close()
    sys.stdout.write("".join(line + "\n" for line in out))
