
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'kfk' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'kfk'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'kfk' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('broker', 'broker', [CompletionResultType]::ParameterValue, 'Run a Kafka-compatible broker (`kfk broker start`)')
            [CompletionResult]::new('console-producer', 'console-producer', [CompletionResultType]::ParameterValue, 'Read lines from stdin and produce them to a topic (kafka-console-producer)')
            [CompletionResult]::new('console-consumer', 'console-consumer', [CompletionResultType]::ParameterValue, 'Consume records from a topic and print them (kafka-console-consumer)')
            [CompletionResult]::new('topics', 'topics', [CompletionResultType]::ParameterValue, 'Create, list, describe, alter and delete topics (kafka-topics)')
            [CompletionResult]::new('consumer-groups', 'consumer-groups', [CompletionResultType]::ParameterValue, 'List, describe, delete consumer groups and reset their offsets (kafka-consumer-groups)')
            [CompletionResult]::new('configs', 'configs', [CompletionResultType]::ParameterValue, 'Describe and alter topic and broker configs (kafka-configs)')
            [CompletionResult]::new('producer-perf-test', 'producer-perf-test', [CompletionResultType]::ParameterValue, 'Measure producer throughput and latency (kafka-producer-perf-test)')
            [CompletionResult]::new('consumer-perf-test', 'consumer-perf-test', [CompletionResultType]::ParameterValue, 'Measure consumer throughput (kafka-consumer-perf-test)')
            [CompletionResult]::new('dump-log', 'dump-log', [CompletionResultType]::ParameterValue, 'Print the batches, records and index entries of log segment files (kafka-dump-log)')
            [CompletionResult]::new('storage', 'storage', [CompletionResultType]::ParameterValue, 'Format storage for a cluster node and make cluster ids (kafka-storage)')
            [CompletionResult]::new('metadata-quorum', 'metadata-quorum', [CompletionResultType]::ParameterValue, 'Describe the metadata quorum: leader, epoch, voters, lag (kafka-metadata-quorum)')
            [CompletionResult]::new('leader-election', 'leader-election', [CompletionResultType]::ParameterValue, 'Elect preferred or unclean partition leaders (kafka-leader-election)')
            [CompletionResult]::new('reassign-partitions', 'reassign-partitions', [CompletionResultType]::ParameterValue, 'Move partitions between brokers: generate, execute, verify, cancel, list (kafka-reassign-partitions)')
            [CompletionResult]::new('get-offsets', 'get-offsets', [CompletionResultType]::ParameterValue, 'Offsets of partitions at a time: latest, earliest, max-timestamp or a timestamp (kafka-get-offsets)')
            [CompletionResult]::new('delete-records', 'delete-records', [CompletionResultType]::ParameterValue, 'Delete records below given offsets of partitions (kafka-delete-records)')
            [CompletionResult]::new('log-dirs', 'log-dirs', [CompletionResultType]::ParameterValue, 'Describe the brokers'' log directories and the partitions in them (kafka-log-dirs)')
            [CompletionResult]::new('dev', 'dev', [CompletionResultType]::ParameterValue, 'Developer conveniences: a local multi-node cluster (`kfk dev cluster --nodes 3`)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script for kfk')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print kfk''s man page (roff)')
            break
        }
        'kfk;broker' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Start a broker and run until SIGINT/SIGTERM (then shut down cleanly)')
            break
        }
        'kfk;broker;start' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file: TOML (Kafka''s property names as keys) or a Java .properties file such as an existing server.properties')
            [CompletionResult]::new('--override', '--override', [CompletionResultType]::ParameterName, 'Set a config key (Kafka''s property name), over the config file. Repeatable')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data directory (log.dirs); wins over the config file. Default ./kfk-data')
            [CompletionResult]::new('--listeners', '--listeners', [CompletionResultType]::ParameterName, 'Listeners (the `listeners` key), e.g. PLAINTEXT://localhost:9092 or several separated by commas. An empty host binds every interface and advertises this machine''s host name; port 0 takes any free port, which is then advertised')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;console-producer' {
            [CompletionResult]::new('--bootstrap-server', '--bootstrap-server', [CompletionResultType]::ParameterName, 'The broker(s) to connect to, host:port[,host:port...]')
            [CompletionResult]::new('--broker-list', '--broker-list', [CompletionResultType]::ParameterName, 'Deprecated alias of --bootstrap-server')
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'The topic to produce to')
            [CompletionResult]::new('--compression-codec', '--compression-codec', [CompletionResultType]::ParameterName, 'Compression: none, gzip, snappy, lz4 or zstd (gzip when given without a value)')
            [CompletionResult]::new('--batch-size', '--batch-size', [CompletionResultType]::ParameterName, 'Bytes per batch (batch.size). Default 16384')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'linger.ms: how long to wait to fill a batch. Default 1000')
            [CompletionResult]::new('--request-required-acks', '--request-required-acks', [CompletionResultType]::ParameterName, 'acks: -1 (all), 0 or 1. Default -1')
            [CompletionResult]::new('--request-timeout-ms', '--request-timeout-ms', [CompletionResultType]::ParameterName, 'request.timeout.ms. Default 1500')
            [CompletionResult]::new('--message-send-max-retries', '--message-send-max-retries', [CompletionResultType]::ParameterName, 'retries. Default 3')
            [CompletionResult]::new('--retry-backoff-ms', '--retry-backoff-ms', [CompletionResultType]::ParameterName, 'retry.backoff.ms. Default 100')
            [CompletionResult]::new('--max-block-ms', '--max-block-ms', [CompletionResultType]::ParameterName, 'max.block.ms: how long a full buffer may block. Default 60000')
            [CompletionResult]::new('--max-memory-bytes', '--max-memory-bytes', [CompletionResultType]::ParameterName, 'buffer.memory. Default 33554432')
            [CompletionResult]::new('--metadata-expiry-ms', '--metadata-expiry-ms', [CompletionResultType]::ParameterName, 'metadata.max.age.ms. Default 300000')
            [CompletionResult]::new('--command-property', '--command-property', [CompletionResultType]::ParameterName, 'A producer property KEY=VALUE (repeatable; --producer-property is Kafka''s older name)')
            [CompletionResult]::new('--producer-property', '--producer-property', [CompletionResultType]::ParameterName, 'A producer property KEY=VALUE (repeatable; --producer-property is Kafka''s older name)')
            [CompletionResult]::new('--command-config', '--command-config', [CompletionResultType]::ParameterName, 'A .properties file of producer properties (--producer.config is Kafka''s older name)')
            [CompletionResult]::new('--producer.config', '--producer.config', [CompletionResultType]::ParameterName, 'A .properties file of producer properties (--producer.config is Kafka''s older name)')
            [CompletionResult]::new('--reader-property', '--reader-property', [CompletionResultType]::ParameterName, 'A line-reader property KEY=VALUE (repeatable): parse.key, key.separator, parse.headers, headers.delimiter, headers.separator, headers.key.separator, ignore.error, null.marker. (--property is Kafka''s older name.)')
            [CompletionResult]::new('--property', '--property', [CompletionResultType]::ParameterName, 'A line-reader property KEY=VALUE (repeatable): parse.key, key.separator, parse.headers, headers.delimiter, headers.separator, headers.key.separator, ignore.error, null.marker. (--property is Kafka''s older name.)')
            [CompletionResult]::new('--sync', '--sync', [CompletionResultType]::ParameterName, 'Send each record synchronously, waiting for its acknowledgement')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;console-consumer' {
            [CompletionResult]::new('--bootstrap-server', '--bootstrap-server', [CompletionResultType]::ParameterName, 'The broker(s) to connect to, host:port[,host:port...]')
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'The topic to consume')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Consume every topic whose name matches this regular expression (anchored)')
            [CompletionResult]::new('--whitelist', '--whitelist', [CompletionResultType]::ParameterName, 'Consume every topic whose name matches this regular expression (anchored)')
            [CompletionResult]::new('--partition', '--partition', [CompletionResultType]::ParameterName, 'Consume only this partition')
            [CompletionResult]::new('--offset', '--offset', [CompletionResultType]::ParameterName, 'Where to start: earliest, latest or an offset (needs --partition). Default latest')
            [CompletionResult]::new('--max-messages', '--max-messages', [CompletionResultType]::ParameterName, 'Exit after this many messages')
            [CompletionResult]::new('--timeout-ms', '--timeout-ms', [CompletionResultType]::ParameterName, 'Exit when no message arrives for this long')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'The consumer group to join (default: a generated group that commits nothing)')
            [CompletionResult]::new('--isolation-level', '--isolation-level', [CompletionResultType]::ParameterName, 'read_committed or read_uncommitted (default)')
            [CompletionResult]::new('--command-property', '--command-property', [CompletionResultType]::ParameterName, 'A consumer property KEY=VALUE (repeatable; --consumer-property is Kafka''s older name)')
            [CompletionResult]::new('--consumer-property', '--consumer-property', [CompletionResultType]::ParameterName, 'A consumer property KEY=VALUE (repeatable; --consumer-property is Kafka''s older name)')
            [CompletionResult]::new('--command-config', '--command-config', [CompletionResultType]::ParameterName, 'A .properties file of consumer properties (--consumer.config is Kafka''s older name)')
            [CompletionResult]::new('--consumer.config', '--consumer.config', [CompletionResultType]::ParameterName, 'A .properties file of consumer properties (--consumer.config is Kafka''s older name)')
            [CompletionResult]::new('--formatter-property', '--formatter-property', [CompletionResultType]::ParameterName, 'A formatter property KEY=VALUE (repeatable): print.timestamp, print.partition, print.offset, print.headers, print.key, print.value, key.separator, line.separator, headers.separator, null.literal. (--property is Kafka''s older name.)')
            [CompletionResult]::new('--property', '--property', [CompletionResultType]::ParameterName, 'A formatter property KEY=VALUE (repeatable): print.timestamp, print.partition, print.offset, print.headers, print.key, print.value, key.separator, line.separator, headers.separator, null.literal. (--property is Kafka''s older name.)')
            [CompletionResult]::new('--formatter', '--formatter', [CompletionResultType]::ParameterName, 'The formatter, by Kafka class name: org.apache.kafka.tools.consumer. DefaultMessageFormatter (default), LoggingMessageFormatter (also logs each record at info level) or NoOpMessageFormatter (prints nothing); kafka.tools.* names too')
            [CompletionResult]::new('--formatter-config', '--formatter-config', [CompletionResultType]::ParameterName, 'A .properties file of formatter properties (--property wins over it)')
            [CompletionResult]::new('--key-deserializer', '--key-deserializer', [CompletionResultType]::ParameterName, 'How keys print, by Kafka deserializer class name: org.apache.kafka.common. serialization.StringDeserializer, ByteArrayDeserializer (default), ShortDeserializer, IntegerDeserializer, LongDeserializer, FloatDeserializer, DoubleDeserializer, UUIDDeserializer or VoidDeserializer')
            [CompletionResult]::new('--value-deserializer', '--value-deserializer', [CompletionResultType]::ParameterName, 'How values print (the classes of --key-deserializer)')
            [CompletionResult]::new('--from-beginning', '--from-beginning', [CompletionResultType]::ParameterName, 'Start from the earliest offset (when there is no committed offset)')
            [CompletionResult]::new('--skip-message-on-error', '--skip-message-on-error', [CompletionResultType]::ParameterName, 'Skip records that cannot be printed (a deserializer refuses them) instead of stopping')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;topics' {
            [CompletionResult]::new('--bootstrap-server', '--bootstrap-server', [CompletionResultType]::ParameterName, 'The broker(s) to connect to, host:port[,host:port...]')
            [CompletionResult]::new('--command-config', '--command-config', [CompletionResultType]::ParameterName, 'A .properties file of client properties')
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'The topic (a regular expression except with --create)')
            [CompletionResult]::new('--partitions', '--partitions', [CompletionResultType]::ParameterName, 'Number of partitions (create: default the broker''s num.partitions; alter: new total)')
            [CompletionResult]::new('--replication-factor', '--replication-factor', [CompletionResultType]::ParameterName, 'Replication factor (default the broker''s default.replication.factor)')
            [CompletionResult]::new('--replica-assignment', '--replica-assignment', [CompletionResultType]::ParameterName, 'Replicas per partition: broker ids, partitions separated by commas (`1:2,1:2`)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'A topic config override KEY=VALUE (repeatable), with --create')
            [CompletionResult]::new('--list', '--list', [CompletionResultType]::ParameterName, 'List the topics')
            [CompletionResult]::new('--describe', '--describe', [CompletionResultType]::ParameterName, 'Describe topics: partitions, leaders, replicas, ISR, config overrides')
            [CompletionResult]::new('--create', '--create', [CompletionResultType]::ParameterName, 'Create a topic')
            [CompletionResult]::new('--alter', '--alter', [CompletionResultType]::ParameterName, 'Add partitions to a topic')
            [CompletionResult]::new('--delete', '--delete', [CompletionResultType]::ParameterName, 'Delete topics')
            [CompletionResult]::new('--if-exists', '--if-exists', [CompletionResultType]::ParameterName, 'With --alter/--delete/--describe: do nothing when the topic does not exist')
            [CompletionResult]::new('--if-not-exists', '--if-not-exists', [CompletionResultType]::ParameterName, 'With --create: do nothing when the topic exists')
            [CompletionResult]::new('--exclude-internal', '--exclude-internal', [CompletionResultType]::ParameterName, 'Leave out internal topics (__consumer_offsets)')
            [CompletionResult]::new('--under-replicated-partitions', '--under-replicated-partitions', [CompletionResultType]::ParameterName, 'Describe only partitions whose ISR is smaller than their replicas')
            [CompletionResult]::new('--unavailable-partitions', '--unavailable-partitions', [CompletionResultType]::ParameterName, 'Describe only partitions without a live leader')
            [CompletionResult]::new('--under-min-isr-partitions', '--under-min-isr-partitions', [CompletionResultType]::ParameterName, 'Describe only partitions whose ISR is below min.insync.replicas')
            [CompletionResult]::new('--at-min-isr-partitions', '--at-min-isr-partitions', [CompletionResultType]::ParameterName, 'Describe only replicated partitions whose ISR equals min.insync.replicas')
            [CompletionResult]::new('--topics-with-overrides', '--topics-with-overrides', [CompletionResultType]::ParameterName, 'Describe only topics with config overrides (their summary line)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;consumer-groups' {
            [CompletionResult]::new('--bootstrap-server', '--bootstrap-server', [CompletionResultType]::ParameterName, 'The broker(s) to connect to, host:port[,host:port...]')
            [CompletionResult]::new('--command-config', '--command-config', [CompletionResultType]::ParameterName, 'A .properties file of client properties')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'The consumer group (repeatable)')
            [CompletionResult]::new('--state', '--state', [CompletionResultType]::ParameterName, 'With --list: filter by state (comma-separated); with --describe: show the group state')
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'Topic, optionally with partitions: `t` or `t:0,1` (repeatable)')
            [CompletionResult]::new('--to-offset', '--to-offset', [CompletionResultType]::ParameterName, 'Reset to this offset (clamped to the partition''s range)')
            [CompletionResult]::new('--shift-by', '--shift-by', [CompletionResultType]::ParameterName, 'Shift the committed offsets by N (may be negative)')
            [CompletionResult]::new('--to-datetime', '--to-datetime', [CompletionResultType]::ParameterName, 'Reset to the first offset at or after a time: YYYY-MM-DDTHH:mm:SS.sss[Z|±hh:mm]')
            [CompletionResult]::new('--by-duration', '--by-duration', [CompletionResultType]::ParameterName, 'Reset to the offset at now minus an ISO-8601 duration: PnDTnHnMn.nS')
            [CompletionResult]::new('--from-file', '--from-file', [CompletionResultType]::ParameterName, 'Reset to the offsets of a CSV file (topic,partition,offset)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Timeout for the requests, in ms')
            [CompletionResult]::new('--list', '--list', [CompletionResultType]::ParameterName, 'List all consumer groups')
            [CompletionResult]::new('--describe', '--describe', [CompletionResultType]::ParameterName, 'Describe consumer groups and their offsets lag')
            [CompletionResult]::new('--delete', '--delete', [CompletionResultType]::ParameterName, 'Delete consumer groups (they must have no members)')
            [CompletionResult]::new('--delete-offsets', '--delete-offsets', [CompletionResultType]::ParameterName, 'Delete committed offsets of a group (for --topic)')
            [CompletionResult]::new('--reset-offsets', '--reset-offsets', [CompletionResultType]::ParameterName, 'Reset the committed offsets of a group (inactive groups only)')
            [CompletionResult]::new('--all-groups', '--all-groups', [CompletionResultType]::ParameterName, 'Apply to every group')
            [CompletionResult]::new('--members', '--members', [CompletionResultType]::ParameterName, 'With --describe: show members')
            [CompletionResult]::new('--offsets', '--offsets', [CompletionResultType]::ParameterName, 'With --describe: show offsets and lag (the default)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'With --describe --members: show each member''s assignment')
            [CompletionResult]::new('--all-topics', '--all-topics', [CompletionResultType]::ParameterName, 'Reset every topic the group has offsets for')
            [CompletionResult]::new('--to-earliest', '--to-earliest', [CompletionResultType]::ParameterName, 'Reset to the earliest offset')
            [CompletionResult]::new('--to-latest', '--to-latest', [CompletionResultType]::ParameterName, 'Reset to the latest offset')
            [CompletionResult]::new('--to-current', '--to-current', [CompletionResultType]::ParameterName, 'Reset to the current committed offset')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show the new offsets without applying them (the default)')
            [CompletionResult]::new('--execute', '--execute', [CompletionResultType]::ParameterName, 'Apply the reset')
            [CompletionResult]::new('--export', '--export', [CompletionResultType]::ParameterName, 'Print the new offsets as CSV (for --from-file)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;configs' {
            [CompletionResult]::new('--bootstrap-server', '--bootstrap-server', [CompletionResultType]::ParameterName, 'The broker(s) to connect to, host:port[,host:port...]')
            [CompletionResult]::new('--command-config', '--command-config', [CompletionResultType]::ParameterName, 'A .properties file of client properties')
            [CompletionResult]::new('--entity-type', '--entity-type', [CompletionResultType]::ParameterName, 'topics or brokers')
            [CompletionResult]::new('--entity-name', '--entity-name', [CompletionResultType]::ParameterName, 'The topic name or broker id')
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'Shorthand for --entity-type topics --entity-name TOPIC')
            [CompletionResult]::new('--broker', '--broker', [CompletionResultType]::ParameterName, 'Shorthand for --entity-type brokers --entity-name ID')
            [CompletionResult]::new('--add-config', '--add-config', [CompletionResultType]::ParameterName, 'Configs to set: k1=v1,k2=[v1,v2],... (repeatable)')
            [CompletionResult]::new('--delete-config', '--delete-config', [CompletionResultType]::ParameterName, 'Configs to remove: k1,k2 (repeatable)')
            [CompletionResult]::new('--describe', '--describe', [CompletionResultType]::ParameterName, 'Show configs')
            [CompletionResult]::new('--alter', '--alter', [CompletionResultType]::ParameterName, 'Change configs')
            [CompletionResult]::new('--entity-default', '--entity-default', [CompletionResultType]::ParameterName, 'The cluster-wide default for brokers')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'With --describe: every config, not only the overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;producer-perf-test' {
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'The topic to produce to')
            [CompletionResult]::new('--num-records', '--num-records', [CompletionResultType]::ParameterName, 'How many records to send')
            [CompletionResult]::new('--record-size', '--record-size', [CompletionResultType]::ParameterName, 'Size of each record in bytes (random uppercase letters)')
            [CompletionResult]::new('--payload-file', '--payload-file', [CompletionResultType]::ParameterName, 'Records are taken at random from this file''s entries')
            [CompletionResult]::new('--payload-delimiter', '--payload-delimiter', [CompletionResultType]::ParameterName, 'Separates the entries of --payload-file')
            [CompletionResult]::new('--throughput', '--throughput', [CompletionResultType]::ParameterName, 'Target records per second; -1 for no limit')
            [CompletionResult]::new('--producer-props', '--producer-props', [CompletionResultType]::ParameterName, 'Producer properties KEY=VALUE (bootstrap.servers, acks, linger.ms, ...)')
            [CompletionResult]::new('--producer.config', '--producer.config', [CompletionResultType]::ParameterName, 'A .properties file of producer properties')
            [CompletionResult]::new('--bootstrap-server', '--bootstrap-server', [CompletionResultType]::ParameterName, 'The broker(s) to connect to (overrides bootstrap.servers)')
            [CompletionResult]::new('--print-metrics', '--print-metrics', [CompletionResultType]::ParameterName, 'Print the producer''s counters at the end')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;consumer-perf-test' {
            [CompletionResult]::new('--bootstrap-server', '--bootstrap-server', [CompletionResultType]::ParameterName, 'The broker(s) to connect to, host:port[,host:port...]')
            [CompletionResult]::new('--broker-list', '--broker-list', [CompletionResultType]::ParameterName, 'The broker(s) to connect to, host:port[,host:port...]')
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'The topic to consume')
            [CompletionResult]::new('--messages', '--messages', [CompletionResultType]::ParameterName, 'How many messages to consume')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'The consumer group (default: perf-consumer-NNNNN)')
            [CompletionResult]::new('--fetch-size', '--fetch-size', [CompletionResultType]::ParameterName, 'max.partition.fetch.bytes')
            [CompletionResult]::new('--socket-buffer-size', '--socket-buffer-size', [CompletionResultType]::ParameterName, 'The socket receive buffer (receive.buffer.bytes), as Kafka''s tool sets it')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up when no message arrives for this long (ms)')
            [CompletionResult]::new('--reporting-interval', '--reporting-interval', [CompletionResultType]::ParameterName, 'The reporting interval (ms) of --show-detailed-stats')
            [CompletionResult]::new('--consumer-property', '--consumer-property', [CompletionResultType]::ParameterName, 'Consumer properties KEY=VALUE (repeatable)')
            [CompletionResult]::new('--consumer.config', '--consumer.config', [CompletionResultType]::ParameterName, 'A .properties file of consumer properties')
            [CompletionResult]::new('--from-latest', '--from-latest', [CompletionResultType]::ParameterName, 'Start from the latest offset instead of the earliest')
            [CompletionResult]::new('--show-detailed-stats', '--show-detailed-stats', [CompletionResultType]::ParameterName, 'Print a line per reporting interval')
            [CompletionResult]::new('--hide-header', '--hide-header', [CompletionResultType]::ParameterName, 'Do not print the header line')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;dump-log' {
            [CompletionResult]::new('--files', '--files', [CompletionResultType]::ParameterName, 'Comma-separated segment files to dump: `.log`, `.index`, `.timeindex`')
            [CompletionResult]::new('--deep-iteration', '--deep-iteration', [CompletionResultType]::ParameterName, 'Print every record, not just the batch headers')
            [CompletionResult]::new('--print-data-log', '--print-data-log', [CompletionResultType]::ParameterName, 'Print record keys and payloads (implies --deep-iteration)')
            [CompletionResult]::new('--index-sanity-check', '--index-sanity-check', [CompletionResultType]::ParameterName, 'Check each index entry against the log segment beside it and report mismatches')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;storage' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('random-uuid', 'random-uuid', [CompletionResultType]::ParameterValue, 'Print a new random cluster id')
            [CompletionResult]::new('format', 'format', [CompletionResultType]::ParameterValue, 'Format the log dirs of a node for a cluster (meta.properties and bootstrap metadata)')
            break
        }
        'kfk;storage;random-uuid' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;storage;format' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'The cluster id (every node of a cluster gets the same)')
            [CompletionResult]::new('--cluster-id', '--cluster-id', [CompletionResultType]::ParameterName, 'The cluster id (every node of a cluster gets the same)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'The node''s config file (server.properties or TOML)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'The node''s config file (server.properties or TOML)')
            [CompletionResult]::new('--override', '--override', [CompletionResultType]::ParameterName, 'Set a config key over the config file. Repeatable')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'A dynamic quorum''s initial voters: id@host:port:directory-id,...')
            [CompletionResult]::new('--initial-controllers', '--initial-controllers', [CompletionResultType]::ParameterName, 'A dynamic quorum''s initial voters: id@host:port:directory-id,...')
            [CompletionResult]::new('-g', '-g', [CompletionResultType]::ParameterName, 'Skip log dirs that are already formatted instead of failing')
            [CompletionResult]::new('--ignore-formatted', '--ignore-formatted', [CompletionResultType]::ParameterName, 'Skip log dirs that are already formatted instead of failing')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'A dynamic quorum of this controller alone')
            [CompletionResult]::new('--standalone', '--standalone', [CompletionResultType]::ParameterName, 'A dynamic quorum of this controller alone')
            [CompletionResult]::new('-N', '-N ', [CompletionResultType]::ParameterName, 'A controller that joins an existing dynamic quorum later')
            [CompletionResult]::new('--no-initial-controllers', '--no-initial-controllers', [CompletionResultType]::ParameterName, 'A controller that joins an existing dynamic quorum later')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;metadata-quorum' {
            [CompletionResult]::new('--bootstrap-server', '--bootstrap-server', [CompletionResultType]::ParameterName, 'A broker to ask (host:port[,host:port...])')
            [CompletionResult]::new('--bootstrap-controller', '--bootstrap-controller', [CompletionResultType]::ParameterName, 'A controller to ask, on its controller listener')
            [CompletionResult]::new('--command-config', '--command-config', [CompletionResultType]::ParameterName, 'Client properties file (as Kafka''s --command-config)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('describe', 'describe', [CompletionResultType]::ParameterValue, 'Describe the metadata quorum')
            [CompletionResult]::new('add-controller', 'add-controller', [CompletionResultType]::ParameterValue, 'Add the controller of --command-config (its node.id, controller listener and the directory.id of its formatted metadata dir) to a dynamic quorum')
            [CompletionResult]::new('remove-controller', 'remove-controller', [CompletionResultType]::ParameterValue, 'Remove a controller from a dynamic quorum')
            break
        }
        'kfk;metadata-quorum;describe' {
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Leader, epoch, high watermark, lag and the voters')
            [CompletionResult]::new('--replication', '--replication', [CompletionResultType]::ParameterName, 'Each replica''s log end offset, lag and fetch times')
            [CompletionResult]::new('--human-readable', '--human-readable', [CompletionResultType]::ParameterName, 'With --replication: print human-readable times and lags')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;metadata-quorum;add-controller' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;metadata-quorum;remove-controller' {
            [CompletionResult]::new('--controller-id', '--controller-id', [CompletionResultType]::ParameterName, 'The node id of the controller to remove')
            [CompletionResult]::new('--controller-directory-id', '--controller-directory-id', [CompletionResultType]::ParameterName, 'The directory id of the controller to remove (its meta.properties directory.id)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;leader-election' {
            [CompletionResult]::new('--bootstrap-server', '--bootstrap-server', [CompletionResultType]::ParameterName, 'The broker(s) to connect to (host:port[,host:port...])')
            [CompletionResult]::new('--admin-config', '--admin-config', [CompletionResultType]::ParameterName, 'Client properties file')
            [CompletionResult]::new('--election-type', '--election-type', [CompletionResultType]::ParameterName, 'The kind of election')
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'The topic of the partition to elect a leader for (with --partition)')
            [CompletionResult]::new('--partition', '--partition', [CompletionResultType]::ParameterName, 'The partition to elect a leader for (with --topic)')
            [CompletionResult]::new('--path-to-json-file', '--path-to-json-file', [CompletionResultType]::ParameterName, 'A JSON file of partitions: {"partitions": [{"topic": "t", "partition": 0}]}')
            [CompletionResult]::new('--all-topic-partitions', '--all-topic-partitions', [CompletionResultType]::ParameterName, 'Elect leaders for every partition')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;reassign-partitions' {
            [CompletionResult]::new('--bootstrap-server', '--bootstrap-server', [CompletionResultType]::ParameterName, 'The broker(s) to connect to (host:port[,host:port...])')
            [CompletionResult]::new('--command-config', '--command-config', [CompletionResultType]::ParameterName, 'Client properties file')
            [CompletionResult]::new('--reassignment-json-file', '--reassignment-json-file', [CompletionResultType]::ParameterName, '{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2,3]}]}')
            [CompletionResult]::new('--topics-to-move-json-file', '--topics-to-move-json-file', [CompletionResultType]::ParameterName, '{"version":1,"topics":[{"topic":"t"}]} (with --generate)')
            [CompletionResult]::new('--broker-list', '--broker-list', [CompletionResultType]::ParameterName, 'The broker ids to place the topics on, "1,2,3" (with --generate)')
            [CompletionResult]::new('--throttle', '--throttle', [CompletionResultType]::ParameterName, 'Replication throttle in B/s on the brokers moving data (with --execute); -1: none')
            [CompletionResult]::new('--replica-alter-log-dirs-throttle', '--replica-alter-log-dirs-throttle', [CompletionResultType]::ParameterName, 'Throttle in B/s of moves between the log dirs of a broker (with --execute and log_dirs in the plan); -1: none')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Milliseconds to wait for log dir moves to start (a replica moved to a new broker takes its log dir once it exists there)')
            [CompletionResult]::new('--generate', '--generate', [CompletionResultType]::ParameterName, 'Propose a placement of the topics of --topics-to-move-json-file on --broker-list (printed; nothing changes)')
            [CompletionResult]::new('--execute', '--execute', [CompletionResultType]::ParameterName, 'Start the reassignment of --reassignment-json-file')
            [CompletionResult]::new('--verify', '--verify', [CompletionResultType]::ParameterName, 'Report the progress of --reassignment-json-file; clears the throttles once complete')
            [CompletionResult]::new('--cancel', '--cancel', [CompletionResultType]::ParameterName, 'Cancel the reassignments of --reassignment-json-file still running')
            [CompletionResult]::new('--list', '--list', [CompletionResultType]::ParameterName, 'List the reassignments in progress')
            [CompletionResult]::new('--disable-rack-aware', '--disable-rack-aware', [CompletionResultType]::ParameterName, 'Place replicas without regard to racks (with --generate)')
            [CompletionResult]::new('--additional', '--additional', [CompletionResultType]::ParameterName, 'Execute although other reassignments are running (or change their throttle)')
            [CompletionResult]::new('--preserve-throttles', '--preserve-throttles', [CompletionResultType]::ParameterName, 'Leave the throttles in place (with --verify or --cancel)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;get-offsets' {
            [CompletionResult]::new('--bootstrap-server', '--bootstrap-server', [CompletionResultType]::ParameterName, 'The broker(s) to connect to, host:port[,host:port...]')
            [CompletionResult]::new('--broker-list', '--broker-list', [CompletionResultType]::ParameterName, 'Same as --bootstrap-server (the older name)')
            [CompletionResult]::new('--topic-partitions', '--topic-partitions', [CompletionResultType]::ParameterName, 'Topic-partition patterns, comma separated: TOPIC_REGEX[:PARTITIONS], where PARTITIONS is N, N-M (M excluded), N- or -M; no regex matches every topic, no PARTITIONS every partition. Not with --topic or --partitions')
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'The topic, or a regular expression matching topics (default: every topic)')
            [CompletionResult]::new('--partitions', '--partitions', [CompletionResultType]::ParameterName, 'Comma-separated partition ids (default: every partition)')
            [CompletionResult]::new('--time', '--time', [CompletionResultType]::ParameterName, '-1 or latest, -2 or earliest, -3 or max-timestamp, -4 or earliest-local, -5 or latest-tiered, or a timestamp in ms (the first offset at or after it)')
            [CompletionResult]::new('--command-config', '--command-config', [CompletionResultType]::ParameterName, 'Client properties file')
            [CompletionResult]::new('--exclude-internal-topics', '--exclude-internal-topics', [CompletionResultType]::ParameterName, 'Leave out internal topics (__consumer_offsets)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;delete-records' {
            [CompletionResult]::new('--bootstrap-server', '--bootstrap-server', [CompletionResultType]::ParameterName, 'The broker(s) to connect to, host:port[,host:port...]')
            [CompletionResult]::new('--offset-json-file', '--offset-json-file', [CompletionResultType]::ParameterName, 'The partitions and the offsets to delete records below: {"partitions": [{"topic": "foo", "partition": 1, "offset": 1}], "version": 1}')
            [CompletionResult]::new('--command-config', '--command-config', [CompletionResultType]::ParameterName, 'Client properties file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;log-dirs' {
            [CompletionResult]::new('--bootstrap-server', '--bootstrap-server', [CompletionResultType]::ParameterName, 'The broker(s) to connect to, host:port[,host:port...]')
            [CompletionResult]::new('--broker-list', '--broker-list', [CompletionResultType]::ParameterName, 'The brokers to ask, "0,1,2" (default: every broker)')
            [CompletionResult]::new('--topic-list', '--topic-list', [CompletionResultType]::ParameterName, 'The topics to list, "topic1,topic2" (default: every topic)')
            [CompletionResult]::new('--command-config', '--command-config', [CompletionResultType]::ParameterName, 'Client properties file')
            [CompletionResult]::new('--describe', '--describe', [CompletionResultType]::ParameterName, 'Describe the log directories of the brokers')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;dev' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('cluster', 'cluster', [CompletionResultType]::ParameterValue, 'Run a local cluster of broker+controller processes until Ctrl-C')
            break
        }
        'kfk;dev;cluster' {
            [CompletionResult]::new('--nodes', '--nodes', [CompletionResultType]::ParameterName, 'How many nodes (each a broker and a controller)')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Where the nodes keep their data (node-1, node-2, ... inside)')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Client port of node 1; node i listens on PORT+i-1 for clients')
            [CompletionResult]::new('--controller-port', '--controller-port', [CompletionResultType]::ParameterName, 'Controller port of node 1 (node i: CONTROLLER_PORT+i-1). Default: --port + 100')
            [CompletionResult]::new('--metrics-port', '--metrics-port', [CompletionResultType]::ParameterName, 'Prometheus metrics port of node 1 (node i: METRICS_PORT+i-1). Default: --port + 200')
            [CompletionResult]::new('--override', '--override', [CompletionResultType]::ParameterName, 'Set a config key on every node. Repeatable')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'kfk;man' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Write every page (kfk.1, kfk-broker.1, kfk-broker-start.1, ...) into this directory')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
