// The Java client (kafka-clients at the pinned release) against a broker: one program, a
// subcommand per scenario, compiled with javac at test time and driven by tests/java_client.rs.
// It prints one line per fact (`SENT ...`, `GOT ...`); the Rust test judges them.

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Produced;

public class Interop {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[1];
        switch (args[0]) {
            case "produce" -> produce(bootstrap, args[2], Integer.parseInt(args[3]));
            case "assign" -> assign(bootstrap, args[2]);
            case "member" -> member(bootstrap, args[2], args[3], args[4]);
            case "admin" -> admin(bootstrap, args[2]);
            case "transactions" -> transactions(bootstrap);
            case "consumer-protocol" -> consumerProtocol(bootstrap, args[2]);
            case "streams" -> streams(bootstrap, args[2], args[3]);
            case "failover-produce" -> failoverProduce(bootstrap, args[2]);
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    // Produces each line of stdin (key = value = the line) with an idempotent acks=all
    // producer, printing "ACK value partition offset" or "FAIL value error" per record as its
    // callback runs; at the end of stdin flushes and exits. Driven by the fault tests.
    static void failoverProduce(String bootstrap, String topic) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", "all");
        p.put("enable.idempotence", "true");
        p.put("linger.ms", "5");
        p.put("request.timeout.ms", "5000");
        p.put("delivery.timeout.ms", "120000");
        p.put("retry.backoff.ms", "100");
        p.put("retry.backoff.max.ms", "500");
        p.put("metadata.max.age.ms", "1000");
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p);
             java.io.BufferedReader in = new java.io.BufferedReader(
                 new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                final String v = line;
                producer.send(new ProducerRecord<>(topic, v, v), (md, e) -> {
                    synchronized (System.out) {
                        if (e == null) {
                            System.out.println("ACK " + v + " " + md.partition() + " " + md.offset());
                        } else {
                            System.out.println("FAIL " + v + " " + e);
                        }
                        System.out.flush();
                    }
                });
            }
            producer.flush();
        }
    }

    static Properties producerProps(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return p;
    }

    static Properties consumerProps(String bootstrap) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        return p;
    }

    static String header(ConsumerRecord<String, String> r, String key) {
        Header h = r.headers().lastHeader(key);
        return h == null ? "-" : new String(h.value(), StandardCharsets.UTF_8);
    }

    /** The Java defaults (acks=all, idempotence on), max.in.flight 5, every codec, headers. */
    static void produce(String bootstrap, String topic, int count) throws Exception {
        List<String> codecs = List.of("none", "gzip", "snappy", "lz4", "zstd");
        for (String codec : codecs) {
            Properties p = producerProps(bootstrap);
            p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
            p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
            p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
                List<java.util.concurrent.Future<RecordMetadata>> sent = new ArrayList<>();
                for (int i = 0; i < count; i++) {
                    ProducerRecord<String, String> r =
                            new ProducerRecord<>(topic, "key-" + i, codec + "-" + i);
                    r.headers().add("codec", codec.getBytes(StandardCharsets.UTF_8));
                    r.headers().add("i", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
                    sent.add(producer.send(r));
                }
                producer.flush();
                for (int i = 0; i < count; i++) {
                    RecordMetadata m = sent.get(i).get();
                    System.out.println("SENT " + codec + " key-" + i + " " + m.partition() + " " + m.offset());
                }
            }
        }
        Properties c = consumerProps(bootstrap);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo info : consumer.partitionsFor(topic)) {
                tps.add(new TopicPartition(topic, info.partition()));
            }
            consumer.assign(tps);
            consumer.seekToBeginning(tps);
            int want = codecs.size() * count, got = 0;
            long deadline = System.currentTimeMillis() + 30_000;
            while (got < want && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    got++;
                    System.out.println("GOT " + r.partition() + " " + r.offset() + " " + r.key() + " "
                            + r.value() + " " + header(r, "codec") + " " + header(r, "i"));
                }
            }
        }
    }

    /** assign, seek, offsetsForTimes, beginning and end offsets on partition 0. */
    static void assign(String bootstrap, String topic) throws Exception {
        TopicPartition tp = new TopicPartition(topic, 0);
        long base = System.currentTimeMillis() - 100_000;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerProps(bootstrap))) {
            for (int i = 0; i < 10; i++) {
                producer.send(new ProducerRecord<>(topic, 0, base + 1000L * i, "k" + i, "v" + i)).get();
            }
        }
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerProps(bootstrap))) {
            consumer.assign(List.of(tp));
            consumer.seek(tp, 3);
            ConsumerRecords<String, String> records = ConsumerRecords.empty();
            for (int i = 0; i < 20 && records.isEmpty(); i++) {
                records = consumer.poll(Duration.ofMillis(500));
            }
            ConsumerRecord<String, String> first = records.iterator().next();
            System.out.println("SEEK " + first.offset() + " " + first.value() + " " + first.timestamp());
            OffsetAndTimestamp at = consumer.offsetsForTimes(Map.of(tp, base + 5000)).get(tp);
            System.out.println("TIMES " + at.offset() + " " + (at.timestamp() - base));
            OffsetAndTimestamp between = consumer.offsetsForTimes(Map.of(tp, base + 6500)).get(tp);
            System.out.println("TIMES_BETWEEN " + between.offset());
            OffsetAndTimestamp future = consumer.offsetsForTimes(Map.of(tp, base + 1_000_000)).get(tp);
            System.out.println("TIMES_FUTURE " + future);
            System.out.println("BEGIN " + consumer.beginningOffsets(List.of(tp)).get(tp));
            System.out.println("END " + consumer.endOffsets(List.of(tp)).get(tp));
            consumer.seekToEnd(List.of(tp));
            System.out.println("POSITION_END " + consumer.position(tp));
        }
    }

    /**
     * One classic-group member: subscribes, prints each assignment and record, commits
     * (commitSync and commitAsync in turn), and runs until its stdin closes or it is killed.
     */
    static void member(String bootstrap, String topic, String group, String assignor) throws Exception {
        Properties p = consumerProps(bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "6000");
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "1000");
        String cls = assignor.equals("range")
                ? RangeAssignor.class.getName()
                : CooperativeStickyAssignor.class.getName();
        p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, cls);
        Thread stdinWatch = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {}
            } catch (Exception ignored) {
            }
        });
        stdinWatch.setDaemon(true);
        stdinWatch.start();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                public void onPartitionsRevoked(Collection<TopicPartition> parts) {
                    consumer.commitSync();
                }

                public void onPartitionsAssigned(Collection<TopicPartition> parts) {
                    System.out.println("ASSIGNED " + describe(consumer.assignment()));
                }
            });
            boolean sync = true;
            while (stdinWatch.isAlive()) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
                for (ConsumerRecord<String, String> r : records) {
                    System.out.println("REC " + r.partition() + " " + r.offset());
                }
                if (!records.isEmpty()) {
                    if (sync) {
                        consumer.commitSync();
                    } else {
                        consumer.commitAsync();
                    }
                    sync = !sync;
                }
            }
            consumer.commitSync();
            System.out.println("CLOSED");
        }
    }

    static String describe(Set<TopicPartition> parts) {
        List<Integer> ps = new ArrayList<>();
        for (TopicPartition tp : parts) {
            ps.add(tp.partition());
        }
        Collections.sort(ps);
        StringBuilder sb = new StringBuilder();
        for (int x : ps) {
            sb.append(sb.length() == 0 ? "" : ",").append(x);
        }
        return sb.length() == 0 ? "-" : sb.toString();
    }

    /** Topics, partitions, cluster, configs, records, offsets and groups through AdminClient. */
    static void admin(String bootstrap, String prefix) throws Exception {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(p)) {
            String topic = prefix + "-admin";
            admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1)
                    .configs(Map.of("retention.ms", "3600000")))).all().get();
            System.out.println("CREATED " + topic);
            try {
                admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get();
                System.out.println("CREATE_AGAIN ok");
            } catch (ExecutionException e) {
                System.out.println("CREATE_AGAIN " + e.getCause().getClass().getSimpleName());
            }
            Set<String> names = admin.listTopics().names().get();
            System.out.println("LISTED " + names.contains(topic));
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            System.out.println("DESCRIBED " + d.name() + " " + d.partitions().size() + " "
                    + d.partitions().get(0).leader().id() + " " + (d.topicId() != null));
            admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(4))).all().get();
            d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            System.out.println("PARTITIONS " + d.partitions().size());
            DescribeClusterResult cluster = admin.describeCluster();
            System.out.println("CLUSTER " + cluster.nodes().get().size() + " " + cluster.controller().get().id()
                    + " " + (cluster.clusterId().get() != null));
            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            Config config = admin.describeConfigs(List.of(res)).all().get().get(res);
            ConfigEntry retention = config.get("retention.ms");
            System.out.println("CONFIG retention.ms " + retention.value() + " " + retention.source());
            ConfigEntry cleanup = config.get("cleanup.policy");
            System.out.println("CONFIG cleanup.policy " + cleanup.value() + " " + cleanup.source());
            admin.incrementalAlterConfigs(Map.of(res, List.of(
                    new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET),
                    new AlterConfigOp(new ConfigEntry("max.message.bytes", "2000000"), AlterConfigOp.OpType.SET))))
                    .all().get();
            config = admin.describeConfigs(List.of(res)).all().get().get(res);
            System.out.println("ALTERED " + config.get("retention.ms").value() + " "
                    + config.get("max.message.bytes").value());
            ConfigResource brokerRes = new ConfigResource(ConfigResource.Type.BROKER,
                    Integer.toString(cluster.controller().get().id()));
            Config brokerConfig = admin.describeConfigs(List.of(brokerRes)).all().get().get(brokerRes);
            System.out.println("BROKER_CONFIG num.partitions " + brokerConfig.get("num.partitions").value());

            TopicPartition tp = new TopicPartition(topic, 0);
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerProps(bootstrap))) {
                for (int i = 0; i < 10; i++) {
                    producer.send(new ProducerRecord<>(topic, 0, "k", "v" + i)).get();
                }
            }
            admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(4))).all().get();
            ListOffsetsResult.ListOffsetsResultInfo earliest =
                    admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).all().get().get(tp);
            ListOffsetsResult.ListOffsetsResultInfo latest =
                    admin.listOffsets(Map.of(tp, OffsetSpec.latest())).all().get().get(tp);
            ListOffsetsResult.ListOffsetsResultInfo maxTs =
                    admin.listOffsets(Map.of(tp, OffsetSpec.maxTimestamp())).all().get().get(tp);
            System.out.println("OFFSETS " + earliest.offset() + " " + latest.offset() + " " + maxTs.offset());

            String group = prefix + "-group";
            Properties c = consumerProps(bootstrap);
            c.put(ConsumerConfig.GROUP_ID_CONFIG, group);
            try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c)) {
                consumer.subscribe(List.of(topic));
                int got = 0;
                long deadline = System.currentTimeMillis() + 30_000;
                while (got < 6 && System.currentTimeMillis() < deadline) {
                    got += consumer.poll(Duration.ofMillis(200)).count();
                }
                consumer.commitSync();
                ConsumerGroupDescription live =
                        admin.describeConsumerGroups(List.of(group)).all().get().get(group);
                System.out.println("GROUP_LIVE " + live.groupState() + " " + live.members().size() + " "
                        + live.partitionAssignor());
            }
            boolean listed = admin.listGroups().all().get().stream().anyMatch(g -> g.groupId().equals(group));
            System.out.println("GROUP_LISTED " + listed);
            ConsumerGroupDescription empty = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
            System.out.println("GROUP_EMPTY " + empty.groupState() + " " + empty.members().size());
            Map<TopicPartition, OffsetAndMetadata> committed =
                    admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            System.out.println("COMMITTED " + committed.get(tp).offset());
            admin.alterConsumerGroupOffsets(group, Map.of(tp, new OffsetAndMetadata(5))).all().get();
            committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            System.out.println("ALTERED_OFFSET " + committed.get(tp).offset());
            admin.deleteConsumerGroups(List.of(group)).all().get();
            listed = admin.listGroups().all().get().stream().anyMatch(g -> g.groupId().equals(group));
            System.out.println("GROUP_DELETED " + !listed);

            admin.deleteTopics(List.of(topic)).all().get();
            long deadline = System.currentTimeMillis() + 10_000;
            while (admin.listTopics().names().get().contains(topic) && System.currentTimeMillis() < deadline) {
                Thread.sleep(100);
            }
            System.out.println("DELETED " + !admin.listTopics().names().get().contains(topic));
        }
    }

    /** Transactions are not supported: initTransactions fails at once, not by a timeout. */
    static void transactions(String bootstrap) {
        Properties p = producerProps(bootstrap);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "interop-tx");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "20000");
        long start = System.currentTimeMillis();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            producer.initTransactions();
            System.out.println("INIT ok");
        } catch (Exception e) {
            System.out.println("INIT " + e.getClass().getSimpleName() + " " + (System.currentTimeMillis() - start));
        }
    }

    /** group.protocol=consumer (KIP-848) on a broker that has only the classic protocol. */
    static void consumerProtocol(String bootstrap, String topic) {
        Properties p = consumerProps(bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "interop-kip848");
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            consumer.subscribe(List.of(topic));
            consumer.poll(Duration.ofSeconds(10));
            System.out.println("POLL ok");
        } catch (Exception e) {
            System.out.println("POLL " + e.getClass().getSimpleName() + " " + e.getMessage());
        }
    }

    /**
     * A Kafka Streams word count (at-least-once): lines from `in`, a repartition by word, a
     * count in a state store with its changelog, the counts to `out`. Prints the final count
     * of each word once every line is counted.
     */
    static void streams(String bootstrap, String in, String out) throws Exception {
        List<String> lines = List.of("the quick brown fox", "jumps over the lazy dog",
                "the dog sleeps", "a fox runs", "the end");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerProps(bootstrap))) {
            for (int round = 0; round < 20; round++) {
                for (String line : lines) {
                    producer.send(new ProducerRecord<>(in, null, line));
                }
            }
        }
        Map<String, Long> want = new TreeMap<>();
        for (String line : lines) {
            for (String w : line.split(" ")) {
                want.merge(w, 20L, Long::sum);
            }
        }
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "kfk-wordcount-" + in);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "200");
        p.put(StreamsConfig.STATE_DIR_CONFIG,
                java.nio.file.Files.createTempDirectory("kfk-streams").toString());
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        StreamsBuilder builder = new StreamsBuilder();
        builder.<String, String>stream(in)
                .flatMapValues(v -> Arrays.asList(v.split(" ")))
                .groupBy((k, w) -> w)
                .count()
                .toStream()
                .to(out, Produced.with(Serdes.String(), Serdes.Long()));
        Map<String, Long> got = new TreeMap<>();
        try (KafkaStreams app = new KafkaStreams(builder.build(), p)) {
            app.setUncaughtExceptionHandler(e -> {
                System.out.println("STREAMS_ERROR " + e);
                return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler
                        .StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
            });
            app.start();
            Properties c = consumerProps(bootstrap);
            c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, LongDeserializer.class.getName());
            c.put(ConsumerConfig.GROUP_ID_CONFIG, "kfk-wordcount-reader-" + out);
            try (KafkaConsumer<String, Long> consumer = new KafkaConsumer<>(c)) {
                consumer.subscribe(List.of(out));
                long deadline = System.currentTimeMillis() + 90_000;
                while (!got.equals(want) && System.currentTimeMillis() < deadline) {
                    for (ConsumerRecord<String, Long> r : consumer.poll(Duration.ofMillis(200))) {
                        got.put(r.key(), r.value());
                    }
                }
            }
            System.out.println("STATE " + app.state());
        }
        for (Map.Entry<String, Long> e : got.entrySet()) {
            System.out.println("COUNT " + e.getKey() + " " + e.getValue());
        }
    }
}
