# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_kfk_global_optspecs
    string join \n h/help V/version
end

function __fish_kfk_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_kfk_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_kfk_using_subcommand
    set -l cmd (__fish_kfk_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c kfk -n "__fish_kfk_needs_command" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_needs_command" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "broker" -d 'Run a Kafka-compatible broker (`kfk broker start`)'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "console-producer" -d 'Read lines from stdin and produce them to a topic (kafka-console-producer)'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "console-consumer" -d 'Consume records from a topic and print them (kafka-console-consumer)'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "topics" -d 'Create, list, describe, alter and delete topics (kafka-topics)'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "consumer-groups" -d 'List, describe, delete consumer groups and reset their offsets (kafka-consumer-groups)'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "configs" -d 'Describe and alter topic and broker configs (kafka-configs)'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "producer-perf-test" -d 'Measure producer throughput and latency (kafka-producer-perf-test)'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "consumer-perf-test" -d 'Measure consumer throughput (kafka-consumer-perf-test)'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "dump-log" -d 'Print the batches, records and index entries of log segment files (kafka-dump-log)'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "storage" -d 'Format storage for a cluster node and make cluster ids (kafka-storage)'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "metadata-quorum" -d 'Describe the metadata quorum: leader, epoch, voters, lag (kafka-metadata-quorum)'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "leader-election" -d 'Elect preferred or unclean partition leaders (kafka-leader-election)'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "reassign-partitions" -d 'Move partitions between brokers: generate, execute, verify, cancel, list (kafka-reassign-partitions)'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "get-offsets" -d 'Offsets of partitions at a time: latest, earliest, max-timestamp or a timestamp (kafka-get-offsets)'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "delete-records" -d 'Delete records below given offsets of partitions (kafka-delete-records)'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "log-dirs" -d 'Describe the brokers\' log directories and the partitions in them (kafka-log-dirs)'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "dev" -d 'Developer conveniences: a local multi-node cluster (`kfk dev cluster --nodes 3`)'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "completions" -d 'Print a shell completion script for kfk'
complete -c kfk -n "__fish_kfk_needs_command" -f -a "man" -d 'Print kfk\'s man page (roff)'
complete -c kfk -n "__fish_kfk_using_subcommand broker; and not __fish_seen_subcommand_from start" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand broker; and not __fish_seen_subcommand_from start" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand broker; and not __fish_seen_subcommand_from start" -f -a "start" -d 'Start a broker and run until SIGINT/SIGTERM (then shut down cleanly)'
complete -c kfk -n "__fish_kfk_using_subcommand broker; and __fish_seen_subcommand_from start" -l config -d 'Config file: TOML (Kafka\'s property names as keys) or a Java .properties file such as an existing server.properties' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand broker; and __fish_seen_subcommand_from start" -l override -d 'Set a config key (Kafka\'s property name), over the config file. Repeatable' -r
complete -c kfk -n "__fish_kfk_using_subcommand broker; and __fish_seen_subcommand_from start" -l data-dir -d 'Data directory (log.dirs); wins over the config file. Default ./kfk-data' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand broker; and __fish_seen_subcommand_from start" -l listeners -d 'Listeners (the `listeners` key), e.g. PLAINTEXT://localhost:9092 or several separated by commas. An empty host binds every interface and advertises this machine\'s host name; port 0 takes any free port, which is then advertised' -r
complete -c kfk -n "__fish_kfk_using_subcommand broker; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand broker; and __fish_seen_subcommand_from start" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -l bootstrap-server -d 'The broker(s) to connect to, host:port[,host:port...]' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -l broker-list -d 'Deprecated alias of --bootstrap-server' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -l topic -d 'The topic to produce to' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -l compression-codec -d 'Compression: none, gzip, snappy, lz4 or zstd (gzip when given without a value)' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -l batch-size -d 'Bytes per batch (batch.size). Default 16384' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -l timeout -d 'linger.ms: how long to wait to fill a batch. Default 1000' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -l request-required-acks -d 'acks: -1 (all), 0 or 1. Default -1' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -l request-timeout-ms -d 'request.timeout.ms. Default 1500' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -l message-send-max-retries -d 'retries. Default 3' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -l retry-backoff-ms -d 'retry.backoff.ms. Default 100' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -l max-block-ms -d 'max.block.ms: how long a full buffer may block. Default 60000' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -l max-memory-bytes -d 'buffer.memory. Default 33554432' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -l metadata-expiry-ms -d 'metadata.max.age.ms. Default 300000' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -l command-property -l producer-property -d 'A producer property KEY=VALUE (repeatable; --producer-property is Kafka\'s older name)' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -l command-config -l producer.config -d 'A .properties file of producer properties (--producer.config is Kafka\'s older name)' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -l reader-property -l property -d 'A line-reader property KEY=VALUE (repeatable): parse.key, key.separator, parse.headers, headers.delimiter, headers.separator, headers.key.separator, ignore.error, null.marker. (--property is Kafka\'s older name.)' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -l sync -d 'Send each record synchronously, waiting for its acknowledgement'
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kfk -n "__fish_kfk_using_subcommand console-producer" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l bootstrap-server -d 'The broker(s) to connect to, host:port[,host:port...]' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l topic -d 'The topic to consume' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l include -l whitelist -d 'Consume every topic whose name matches this regular expression (anchored)' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l partition -d 'Consume only this partition' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l offset -d 'Where to start: earliest, latest or an offset (needs --partition). Default latest' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l max-messages -d 'Exit after this many messages' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l timeout-ms -d 'Exit when no message arrives for this long' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l group -d 'The consumer group to join (default: a generated group that commits nothing)' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l isolation-level -d 'read_committed or read_uncommitted (default)' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l command-property -l consumer-property -d 'A consumer property KEY=VALUE (repeatable; --consumer-property is Kafka\'s older name)' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l command-config -l consumer.config -d 'A .properties file of consumer properties (--consumer.config is Kafka\'s older name)' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l formatter-property -l property -d 'A formatter property KEY=VALUE (repeatable): print.timestamp, print.partition, print.offset, print.headers, print.key, print.value, key.separator, line.separator, headers.separator, null.literal. (--property is Kafka\'s older name.)' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l formatter -d 'The formatter, by Kafka class name: org.apache.kafka.tools.consumer. DefaultMessageFormatter (default), LoggingMessageFormatter (also logs each record at info level) or NoOpMessageFormatter (prints nothing); kafka.tools.* names too' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l formatter-config -d 'A .properties file of formatter properties (--property wins over it)' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l key-deserializer -d 'How keys print, by Kafka deserializer class name: org.apache.kafka.common. serialization.StringDeserializer, ByteArrayDeserializer (default), ShortDeserializer, IntegerDeserializer, LongDeserializer, FloatDeserializer, DoubleDeserializer, UUIDDeserializer or VoidDeserializer' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l value-deserializer -d 'How values print (the classes of --key-deserializer)' -r
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l from-beginning -d 'Start from the earliest offset (when there is no committed offset)'
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -l skip-message-on-error -d 'Skip records that cannot be printed (a deserializer refuses them) instead of stopping'
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand console-consumer" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l bootstrap-server -d 'The broker(s) to connect to, host:port[,host:port...]' -r
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l command-config -d 'A .properties file of client properties' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l topic -d 'The topic (a regular expression except with --create)' -r
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l partitions -d 'Number of partitions (create: default the broker\'s num.partitions; alter: new total)' -r
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l replication-factor -d 'Replication factor (default the broker\'s default.replication.factor)' -r
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l replica-assignment -d 'Replicas per partition: broker ids, partitions separated by commas (`1:2,1:2`)' -r
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l config -d 'A topic config override KEY=VALUE (repeatable), with --create' -r
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l list -d 'List the topics'
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l describe -d 'Describe topics: partitions, leaders, replicas, ISR, config overrides'
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l create -d 'Create a topic'
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l alter -d 'Add partitions to a topic'
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l delete -d 'Delete topics'
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l if-exists -d 'With --alter/--delete/--describe: do nothing when the topic does not exist'
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l if-not-exists -d 'With --create: do nothing when the topic exists'
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l exclude-internal -d 'Leave out internal topics (__consumer_offsets)'
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l under-replicated-partitions -d 'Describe only partitions whose ISR is smaller than their replicas'
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l unavailable-partitions -d 'Describe only partitions without a live leader'
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l under-min-isr-partitions -d 'Describe only partitions whose ISR is below min.insync.replicas'
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l at-min-isr-partitions -d 'Describe only replicated partitions whose ISR equals min.insync.replicas'
complete -c kfk -n "__fish_kfk_using_subcommand topics" -l topics-with-overrides -d 'Describe only topics with config overrides (their summary line)'
complete -c kfk -n "__fish_kfk_using_subcommand topics" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand topics" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l bootstrap-server -d 'The broker(s) to connect to, host:port[,host:port...]' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l command-config -d 'A .properties file of client properties' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l group -d 'The consumer group (repeatable)' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l state -d 'With --list: filter by state (comma-separated); with --describe: show the group state' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l topic -d 'Topic, optionally with partitions: `t` or `t:0,1` (repeatable)' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l to-offset -d 'Reset to this offset (clamped to the partition\'s range)' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l shift-by -d 'Shift the committed offsets by N (may be negative)' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l to-datetime -d 'Reset to the first offset at or after a time: YYYY-MM-DDTHH:mm:SS.sss[Z|±hh:mm]' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l by-duration -d 'Reset to the offset at now minus an ISO-8601 duration: PnDTnHnMn.nS' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l from-file -d 'Reset to the offsets of a CSV file (topic,partition,offset)' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l timeout -d 'Timeout for the requests, in ms' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l list -d 'List all consumer groups'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l describe -d 'Describe consumer groups and their offsets lag'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l delete -d 'Delete consumer groups (they must have no members)'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l delete-offsets -d 'Delete committed offsets of a group (for --topic)'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l reset-offsets -d 'Reset the committed offsets of a group (inactive groups only)'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l all-groups -d 'Apply to every group'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l members -d 'With --describe: show members'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l offsets -d 'With --describe: show offsets and lag (the default)'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l verbose -d 'With --describe --members: show each member\'s assignment'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l all-topics -d 'Reset every topic the group has offsets for'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l to-earliest -d 'Reset to the earliest offset'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l to-latest -d 'Reset to the latest offset'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l to-current -d 'Reset to the current committed offset'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l dry-run -d 'Show the new offsets without applying them (the default)'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l execute -d 'Apply the reset'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -l export -d 'Print the new offsets as CSV (for --from-file)'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-groups" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand configs" -l bootstrap-server -d 'The broker(s) to connect to, host:port[,host:port...]' -r
complete -c kfk -n "__fish_kfk_using_subcommand configs" -l command-config -d 'A .properties file of client properties' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand configs" -l entity-type -d 'topics or brokers' -r
complete -c kfk -n "__fish_kfk_using_subcommand configs" -l entity-name -d 'The topic name or broker id' -r
complete -c kfk -n "__fish_kfk_using_subcommand configs" -l topic -d 'Shorthand for --entity-type topics --entity-name TOPIC' -r
complete -c kfk -n "__fish_kfk_using_subcommand configs" -l broker -d 'Shorthand for --entity-type brokers --entity-name ID' -r
complete -c kfk -n "__fish_kfk_using_subcommand configs" -l add-config -d 'Configs to set: k1=v1,k2=[v1,v2],... (repeatable)' -r
complete -c kfk -n "__fish_kfk_using_subcommand configs" -l delete-config -d 'Configs to remove: k1,k2 (repeatable)' -r
complete -c kfk -n "__fish_kfk_using_subcommand configs" -l describe -d 'Show configs'
complete -c kfk -n "__fish_kfk_using_subcommand configs" -l alter -d 'Change configs'
complete -c kfk -n "__fish_kfk_using_subcommand configs" -l entity-default -d 'The cluster-wide default for brokers'
complete -c kfk -n "__fish_kfk_using_subcommand configs" -l all -d 'With --describe: every config, not only the overrides'
complete -c kfk -n "__fish_kfk_using_subcommand configs" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand configs" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand producer-perf-test" -l topic -d 'The topic to produce to' -r
complete -c kfk -n "__fish_kfk_using_subcommand producer-perf-test" -l num-records -d 'How many records to send' -r
complete -c kfk -n "__fish_kfk_using_subcommand producer-perf-test" -l record-size -d 'Size of each record in bytes (random uppercase letters)' -r
complete -c kfk -n "__fish_kfk_using_subcommand producer-perf-test" -l payload-file -d 'Records are taken at random from this file\'s entries' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand producer-perf-test" -l payload-delimiter -d 'Separates the entries of --payload-file' -r
complete -c kfk -n "__fish_kfk_using_subcommand producer-perf-test" -l throughput -d 'Target records per second; -1 for no limit' -r
complete -c kfk -n "__fish_kfk_using_subcommand producer-perf-test" -l producer-props -d 'Producer properties KEY=VALUE (bootstrap.servers, acks, linger.ms, ...)' -r
complete -c kfk -n "__fish_kfk_using_subcommand producer-perf-test" -l producer.config -d 'A .properties file of producer properties' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand producer-perf-test" -l bootstrap-server -d 'The broker(s) to connect to (overrides bootstrap.servers)' -r
complete -c kfk -n "__fish_kfk_using_subcommand producer-perf-test" -l print-metrics -d 'Print the producer\'s counters at the end'
complete -c kfk -n "__fish_kfk_using_subcommand producer-perf-test" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand producer-perf-test" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-perf-test" -l bootstrap-server -l broker-list -d 'The broker(s) to connect to, host:port[,host:port...]' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-perf-test" -l topic -d 'The topic to consume' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-perf-test" -l messages -d 'How many messages to consume' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-perf-test" -l group -d 'The consumer group (default: perf-consumer-NNNNN)' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-perf-test" -l fetch-size -d 'max.partition.fetch.bytes' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-perf-test" -l socket-buffer-size -d 'The socket receive buffer (receive.buffer.bytes), as Kafka\'s tool sets it' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-perf-test" -l timeout -d 'Give up when no message arrives for this long (ms)' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-perf-test" -l reporting-interval -d 'The reporting interval (ms) of --show-detailed-stats' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-perf-test" -l consumer-property -d 'Consumer properties KEY=VALUE (repeatable)' -r
complete -c kfk -n "__fish_kfk_using_subcommand consumer-perf-test" -l consumer.config -d 'A .properties file of consumer properties' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand consumer-perf-test" -l from-latest -d 'Start from the latest offset instead of the earliest'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-perf-test" -l show-detailed-stats -d 'Print a line per reporting interval'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-perf-test" -l hide-header -d 'Do not print the header line'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-perf-test" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand consumer-perf-test" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand dump-log" -l files -d 'Comma-separated segment files to dump: `.log`, `.index`, `.timeindex`' -r
complete -c kfk -n "__fish_kfk_using_subcommand dump-log" -l deep-iteration -d 'Print every record, not just the batch headers'
complete -c kfk -n "__fish_kfk_using_subcommand dump-log" -l print-data-log -d 'Print record keys and payloads (implies --deep-iteration)'
complete -c kfk -n "__fish_kfk_using_subcommand dump-log" -l index-sanity-check -d 'Check each index entry against the log segment beside it and report mismatches'
complete -c kfk -n "__fish_kfk_using_subcommand dump-log" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand dump-log" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand storage; and not __fish_seen_subcommand_from random-uuid format" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand storage; and not __fish_seen_subcommand_from random-uuid format" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand storage; and not __fish_seen_subcommand_from random-uuid format" -f -a "random-uuid" -d 'Print a new random cluster id'
complete -c kfk -n "__fish_kfk_using_subcommand storage; and not __fish_seen_subcommand_from random-uuid format" -f -a "format" -d 'Format the log dirs of a node for a cluster (meta.properties and bootstrap metadata)'
complete -c kfk -n "__fish_kfk_using_subcommand storage; and __fish_seen_subcommand_from random-uuid" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand storage; and __fish_seen_subcommand_from random-uuid" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand storage; and __fish_seen_subcommand_from format" -s t -l cluster-id -d 'The cluster id (every node of a cluster gets the same)' -r
complete -c kfk -n "__fish_kfk_using_subcommand storage; and __fish_seen_subcommand_from format" -s c -l config -d 'The node\'s config file (server.properties or TOML)' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand storage; and __fish_seen_subcommand_from format" -l override -d 'Set a config key over the config file. Repeatable' -r
complete -c kfk -n "__fish_kfk_using_subcommand storage; and __fish_seen_subcommand_from format" -s I -l initial-controllers -d 'A dynamic quorum\'s initial voters: id@host:port:directory-id,...' -r
complete -c kfk -n "__fish_kfk_using_subcommand storage; and __fish_seen_subcommand_from format" -s g -l ignore-formatted -d 'Skip log dirs that are already formatted instead of failing'
complete -c kfk -n "__fish_kfk_using_subcommand storage; and __fish_seen_subcommand_from format" -s s -l standalone -d 'A dynamic quorum of this controller alone'
complete -c kfk -n "__fish_kfk_using_subcommand storage; and __fish_seen_subcommand_from format" -s N -l no-initial-controllers -d 'A controller that joins an existing dynamic quorum later'
complete -c kfk -n "__fish_kfk_using_subcommand storage; and __fish_seen_subcommand_from format" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand storage; and __fish_seen_subcommand_from format" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and not __fish_seen_subcommand_from describe add-controller remove-controller" -l bootstrap-server -d 'A broker to ask (host:port[,host:port...])' -r
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and not __fish_seen_subcommand_from describe add-controller remove-controller" -l bootstrap-controller -d 'A controller to ask, on its controller listener' -r
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and not __fish_seen_subcommand_from describe add-controller remove-controller" -l command-config -d 'Client properties file (as Kafka\'s --command-config)' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and not __fish_seen_subcommand_from describe add-controller remove-controller" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and not __fish_seen_subcommand_from describe add-controller remove-controller" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and not __fish_seen_subcommand_from describe add-controller remove-controller" -f -a "describe" -d 'Describe the metadata quorum'
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and not __fish_seen_subcommand_from describe add-controller remove-controller" -f -a "add-controller" -d 'Add the controller of --command-config (its node.id, controller listener and the directory.id of its formatted metadata dir) to a dynamic quorum'
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and not __fish_seen_subcommand_from describe add-controller remove-controller" -f -a "remove-controller" -d 'Remove a controller from a dynamic quorum'
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and __fish_seen_subcommand_from describe" -l status -d 'Leader, epoch, high watermark, lag and the voters'
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and __fish_seen_subcommand_from describe" -l replication -d 'Each replica\'s log end offset, lag and fetch times'
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and __fish_seen_subcommand_from describe" -l human-readable -d 'With --replication: print human-readable times and lags'
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and __fish_seen_subcommand_from describe" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and __fish_seen_subcommand_from describe" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and __fish_seen_subcommand_from add-controller" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and __fish_seen_subcommand_from add-controller" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and __fish_seen_subcommand_from remove-controller" -l controller-id -d 'The node id of the controller to remove' -r
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and __fish_seen_subcommand_from remove-controller" -l controller-directory-id -d 'The directory id of the controller to remove (its meta.properties directory.id)' -r
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and __fish_seen_subcommand_from remove-controller" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand metadata-quorum; and __fish_seen_subcommand_from remove-controller" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand leader-election" -l bootstrap-server -d 'The broker(s) to connect to (host:port[,host:port...])' -r
complete -c kfk -n "__fish_kfk_using_subcommand leader-election" -l admin-config -d 'Client properties file' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand leader-election" -l election-type -d 'The kind of election' -r -f -a "PREFERRED\t''
UNCLEAN\t''"
complete -c kfk -n "__fish_kfk_using_subcommand leader-election" -l topic -d 'The topic of the partition to elect a leader for (with --partition)' -r
complete -c kfk -n "__fish_kfk_using_subcommand leader-election" -l partition -d 'The partition to elect a leader for (with --topic)' -r
complete -c kfk -n "__fish_kfk_using_subcommand leader-election" -l path-to-json-file -d 'A JSON file of partitions: {"partitions": [{"topic": "t", "partition": 0}]}' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand leader-election" -l all-topic-partitions -d 'Elect leaders for every partition'
complete -c kfk -n "__fish_kfk_using_subcommand leader-election" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand leader-election" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -l bootstrap-server -d 'The broker(s) to connect to (host:port[,host:port...])' -r
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -l command-config -d 'Client properties file' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -l reassignment-json-file -d '{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2,3]}]}' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -l topics-to-move-json-file -d '{"version":1,"topics":[{"topic":"t"}]} (with --generate)' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -l broker-list -d 'The broker ids to place the topics on, "1,2,3" (with --generate)' -r
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -l throttle -d 'Replication throttle in B/s on the brokers moving data (with --execute); -1: none' -r
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -l replica-alter-log-dirs-throttle -d 'Throttle in B/s of moves between the log dirs of a broker (with --execute and log_dirs in the plan); -1: none' -r
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -l timeout -d 'Milliseconds to wait for log dir moves to start (a replica moved to a new broker takes its log dir once it exists there)' -r
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -l generate -d 'Propose a placement of the topics of --topics-to-move-json-file on --broker-list (printed; nothing changes)'
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -l execute -d 'Start the reassignment of --reassignment-json-file'
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -l verify -d 'Report the progress of --reassignment-json-file; clears the throttles once complete'
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -l cancel -d 'Cancel the reassignments of --reassignment-json-file still running'
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -l list -d 'List the reassignments in progress'
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -l disable-rack-aware -d 'Place replicas without regard to racks (with --generate)'
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -l additional -d 'Execute although other reassignments are running (or change their throttle)'
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -l preserve-throttles -d 'Leave the throttles in place (with --verify or --cancel)'
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand reassign-partitions" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand get-offsets" -l bootstrap-server -d 'The broker(s) to connect to, host:port[,host:port...]' -r
complete -c kfk -n "__fish_kfk_using_subcommand get-offsets" -l broker-list -d 'Same as --bootstrap-server (the older name)' -r
complete -c kfk -n "__fish_kfk_using_subcommand get-offsets" -l topic-partitions -d 'Topic-partition patterns, comma separated: TOPIC_REGEX[:PARTITIONS], where PARTITIONS is N, N-M (M excluded), N- or -M; no regex matches every topic, no PARTITIONS every partition. Not with --topic or --partitions' -r
complete -c kfk -n "__fish_kfk_using_subcommand get-offsets" -l topic -d 'The topic, or a regular expression matching topics (default: every topic)' -r
complete -c kfk -n "__fish_kfk_using_subcommand get-offsets" -l partitions -d 'Comma-separated partition ids (default: every partition)' -r
complete -c kfk -n "__fish_kfk_using_subcommand get-offsets" -l time -d '-1 or latest, -2 or earliest, -3 or max-timestamp, -4 or earliest-local, -5 or latest-tiered, or a timestamp in ms (the first offset at or after it)' -r
complete -c kfk -n "__fish_kfk_using_subcommand get-offsets" -l command-config -d 'Client properties file' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand get-offsets" -l exclude-internal-topics -d 'Leave out internal topics (__consumer_offsets)'
complete -c kfk -n "__fish_kfk_using_subcommand get-offsets" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kfk -n "__fish_kfk_using_subcommand get-offsets" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand delete-records" -l bootstrap-server -d 'The broker(s) to connect to, host:port[,host:port...]' -r
complete -c kfk -n "__fish_kfk_using_subcommand delete-records" -l offset-json-file -d 'The partitions and the offsets to delete records below: {"partitions": [{"topic": "foo", "partition": 1, "offset": 1}], "version": 1}' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand delete-records" -l command-config -d 'Client properties file' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand delete-records" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand delete-records" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand log-dirs" -l bootstrap-server -d 'The broker(s) to connect to, host:port[,host:port...]' -r
complete -c kfk -n "__fish_kfk_using_subcommand log-dirs" -l broker-list -d 'The brokers to ask, "0,1,2" (default: every broker)' -r
complete -c kfk -n "__fish_kfk_using_subcommand log-dirs" -l topic-list -d 'The topics to list, "topic1,topic2" (default: every topic)' -r
complete -c kfk -n "__fish_kfk_using_subcommand log-dirs" -l command-config -d 'Client properties file' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand log-dirs" -l describe -d 'Describe the log directories of the brokers'
complete -c kfk -n "__fish_kfk_using_subcommand log-dirs" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand log-dirs" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand dev; and not __fish_seen_subcommand_from cluster" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand dev; and not __fish_seen_subcommand_from cluster" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand dev; and not __fish_seen_subcommand_from cluster" -f -a "cluster" -d 'Run a local cluster of broker+controller processes until Ctrl-C'
complete -c kfk -n "__fish_kfk_using_subcommand dev; and __fish_seen_subcommand_from cluster" -l nodes -d 'How many nodes (each a broker and a controller)' -r
complete -c kfk -n "__fish_kfk_using_subcommand dev; and __fish_seen_subcommand_from cluster" -l data-dir -d 'Where the nodes keep their data (node-1, node-2, ... inside)' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand dev; and __fish_seen_subcommand_from cluster" -l port -d 'Client port of node 1; node i listens on PORT+i-1 for clients' -r
complete -c kfk -n "__fish_kfk_using_subcommand dev; and __fish_seen_subcommand_from cluster" -l controller-port -d 'Controller port of node 1 (node i: CONTROLLER_PORT+i-1). Default: --port + 100' -r
complete -c kfk -n "__fish_kfk_using_subcommand dev; and __fish_seen_subcommand_from cluster" -l metrics-port -d 'Prometheus metrics port of node 1 (node i: METRICS_PORT+i-1). Default: --port + 200' -r
complete -c kfk -n "__fish_kfk_using_subcommand dev; and __fish_seen_subcommand_from cluster" -l override -d 'Set a config key on every node. Repeatable' -r
complete -c kfk -n "__fish_kfk_using_subcommand dev; and __fish_seen_subcommand_from cluster" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand dev; and __fish_seen_subcommand_from cluster" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand completions" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand completions" -s V -l version -d 'Print version'
complete -c kfk -n "__fish_kfk_using_subcommand man" -l dir -d 'Write every page (kfk.1, kfk-broker.1, kfk-broker-start.1, ...) into this directory' -r -F
complete -c kfk -n "__fish_kfk_using_subcommand man" -s h -l help -d 'Print help'
complete -c kfk -n "__fish_kfk_using_subcommand man" -s V -l version -d 'Print version'
