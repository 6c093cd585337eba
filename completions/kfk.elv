
use builtin;
use str;

set edit:completion:arg-completer[kfk] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'kfk'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'kfk'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand broker 'Run a Kafka-compatible broker (`kfk broker start`)'
            cand console-producer 'Read lines from stdin and produce them to a topic (kafka-console-producer)'
            cand console-consumer 'Consume records from a topic and print them (kafka-console-consumer)'
            cand topics 'Create, list, describe, alter and delete topics (kafka-topics)'
            cand consumer-groups 'List, describe, delete consumer groups and reset their offsets (kafka-consumer-groups)'
            cand configs 'Describe and alter topic and broker configs (kafka-configs)'
            cand producer-perf-test 'Measure producer throughput and latency (kafka-producer-perf-test)'
            cand consumer-perf-test 'Measure consumer throughput (kafka-consumer-perf-test)'
            cand dump-log 'Print the batches, records and index entries of log segment files (kafka-dump-log)'
            cand completions 'Print a shell completion script for kfk'
            cand man 'Print kfk''s man page (roff)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'kfk;broker'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand start 'Start a broker and run until SIGINT/SIGTERM (then shut down cleanly)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'kfk;broker;start'= {
            cand --config 'Config file: TOML (Kafka''s property names as keys) or a Java .properties file such as an existing server.properties'
            cand --override 'Set a config key (Kafka''s property name), over the config file. Repeatable'
            cand --data-dir 'Data directory (log.dirs); wins over the config file. Default ./kfk-data'
            cand --listeners 'Listeners (the `listeners` key), e.g. PLAINTEXT://localhost:9092 or several separated by commas. An empty host binds every interface and advertises this machine''s host name; port 0 takes any free port, which is then advertised'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kfk;broker;help'= {
            cand start 'Start a broker and run until SIGINT/SIGTERM (then shut down cleanly)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'kfk;broker;help;start'= {
        }
        &'kfk;broker;help;help'= {
        }
        &'kfk;console-producer'= {
            cand --bootstrap-server 'The broker(s) to connect to, host:port[,host:port...]'
            cand --broker-list 'Deprecated alias of --bootstrap-server'
            cand --topic 'The topic to produce to'
            cand --compression-codec 'Compression: none, gzip, snappy, lz4 or zstd (gzip when given without a value)'
            cand --batch-size 'Bytes per batch (batch.size). Default 16384'
            cand --timeout 'linger.ms: how long to wait to fill a batch. Default 1000'
            cand --request-required-acks 'acks: -1 (all), 0 or 1. Default -1'
            cand --request-timeout-ms 'request.timeout.ms. Default 1500'
            cand --message-send-max-retries 'retries. Default 3'
            cand --retry-backoff-ms 'retry.backoff.ms. Default 100'
            cand --max-block-ms 'max.block.ms: how long a full buffer may block. Default 60000'
            cand --max-memory-bytes 'buffer.memory. Default 33554432'
            cand --metadata-expiry-ms 'metadata.max.age.ms. Default 300000'
            cand --producer-property 'A producer property KEY=VALUE (repeatable)'
            cand --producer.config 'A .properties file of producer properties'
            cand --property 'A line-reader property KEY=VALUE (repeatable): parse.key, key.separator, parse.headers, headers.delimiter, headers.separator, headers.key.separator, ignore.error, null.marker'
            cand --reader-property 'A line-reader property KEY=VALUE (repeatable): parse.key, key.separator, parse.headers, headers.delimiter, headers.separator, headers.key.separator, ignore.error, null.marker'
            cand --sync 'Send each record synchronously, waiting for its acknowledgement'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kfk;console-consumer'= {
            cand --bootstrap-server 'The broker(s) to connect to, host:port[,host:port...]'
            cand --topic 'The topic to consume'
            cand --include 'Consume every topic whose name matches this regular expression (anchored)'
            cand --whitelist 'Consume every topic whose name matches this regular expression (anchored)'
            cand --partition 'Consume only this partition'
            cand --offset 'Where to start: earliest, latest or an offset (needs --partition). Default latest'
            cand --max-messages 'Exit after this many messages'
            cand --timeout-ms 'Exit when no message arrives for this long'
            cand --group 'The consumer group to join (default: a generated group that commits nothing)'
            cand --isolation-level 'read_committed or read_uncommitted (default)'
            cand --consumer-property 'A consumer property KEY=VALUE (repeatable)'
            cand --consumer.config 'A .properties file of consumer properties'
            cand --property 'A formatter property KEY=VALUE (repeatable): print.timestamp, print.partition, print.offset, print.headers, print.key, print.value, key.separator, line.separator, headers.separator, null.literal'
            cand --formatter-property 'A formatter property KEY=VALUE (repeatable): print.timestamp, print.partition, print.offset, print.headers, print.key, print.value, key.separator, line.separator, headers.separator, null.literal'
            cand --from-beginning 'Start from the earliest offset (when there is no committed offset)'
            cand --skip-message-on-error 'Skip records that cannot be printed instead of stopping'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kfk;topics'= {
            cand --bootstrap-server 'The broker(s) to connect to, host:port[,host:port...]'
            cand --command-config 'A .properties file of client properties'
            cand --topic 'The topic (a regular expression except with --create)'
            cand --partitions 'Number of partitions (create: default the broker''s num.partitions; alter: new total)'
            cand --replication-factor 'Replication factor (default the broker''s default.replication.factor)'
            cand --replica-assignment 'Replicas per partition: broker ids, partitions separated by commas (`1:2,1:2`)'
            cand --config 'A topic config override KEY=VALUE (repeatable), with --create'
            cand --list 'List the topics'
            cand --describe 'Describe topics: partitions, leaders, replicas, ISR, config overrides'
            cand --create 'Create a topic'
            cand --alter 'Add partitions to a topic'
            cand --delete 'Delete topics'
            cand --if-exists 'With --alter/--delete/--describe: do nothing when the topic does not exist'
            cand --if-not-exists 'With --create: do nothing when the topic exists'
            cand --exclude-internal 'Leave out internal topics (__consumer_offsets)'
            cand --under-replicated-partitions 'Describe only partitions whose ISR is smaller than their replicas'
            cand --unavailable-partitions 'Describe only partitions without a live leader'
            cand --under-min-isr-partitions 'Describe only partitions whose ISR is below min.insync.replicas'
            cand --at-min-isr-partitions 'Describe only replicated partitions whose ISR equals min.insync.replicas'
            cand --topics-with-overrides 'Describe only topics with config overrides (their summary line)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kfk;consumer-groups'= {
            cand --bootstrap-server 'The broker(s) to connect to, host:port[,host:port...]'
            cand --command-config 'A .properties file of client properties'
            cand --group 'The consumer group (repeatable)'
            cand --state 'With --list: filter by state (comma-separated); with --describe: show the group state'
            cand --topic 'Topic, optionally with partitions: `t` or `t:0,1` (repeatable)'
            cand --to-offset 'Reset to this offset (clamped to the partition''s range)'
            cand --shift-by 'Shift the committed offsets by N (may be negative)'
            cand --to-datetime 'Reset to the first offset at or after a time: YYYY-MM-DDTHH:mm:SS.sss[Z|±hh:mm]'
            cand --by-duration 'Reset to the offset at now minus an ISO-8601 duration: PnDTnHnMn.nS'
            cand --from-file 'Reset to the offsets of a CSV file (topic,partition,offset)'
            cand --timeout 'Timeout for the requests, in ms'
            cand --list 'List all consumer groups'
            cand --describe 'Describe consumer groups and their offsets lag'
            cand --delete 'Delete consumer groups (they must have no members)'
            cand --delete-offsets 'Delete committed offsets of a group (for --topic)'
            cand --reset-offsets 'Reset the committed offsets of a group (inactive groups only)'
            cand --all-groups 'Apply to every group'
            cand --members 'With --describe: show members'
            cand --offsets 'With --describe: show offsets and lag (the default)'
            cand --verbose 'With --describe --members: show each member''s assignment'
            cand --all-topics 'Reset every topic the group has offsets for'
            cand --to-earliest 'Reset to the earliest offset'
            cand --to-latest 'Reset to the latest offset'
            cand --to-current 'Reset to the current committed offset'
            cand --dry-run 'Show the new offsets without applying them (the default)'
            cand --execute 'Apply the reset'
            cand --export 'Print the new offsets as CSV (for --from-file)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kfk;configs'= {
            cand --bootstrap-server 'The broker(s) to connect to, host:port[,host:port...]'
            cand --command-config 'A .properties file of client properties'
            cand --entity-type 'topics or brokers'
            cand --entity-name 'The topic name or broker id'
            cand --topic 'Shorthand for --entity-type topics --entity-name TOPIC'
            cand --broker 'Shorthand for --entity-type brokers --entity-name ID'
            cand --add-config 'Configs to set: k1=v1,k2=[v1,v2],... (repeatable)'
            cand --delete-config 'Configs to remove: k1,k2 (repeatable)'
            cand --describe 'Show configs'
            cand --alter 'Change configs'
            cand --entity-default 'The cluster-wide default for brokers'
            cand --all 'With --describe: every config, not only the overrides'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kfk;producer-perf-test'= {
            cand --topic 'The topic to produce to'
            cand --num-records 'How many records to send'
            cand --record-size 'Size of each record in bytes (random uppercase letters)'
            cand --payload-file 'Records are taken at random from this file''s entries'
            cand --payload-delimiter 'Separates the entries of --payload-file'
            cand --throughput 'Target records per second; -1 for no limit'
            cand --producer-props 'Producer properties KEY=VALUE (bootstrap.servers, acks, linger.ms, ...)'
            cand --producer.config 'A .properties file of producer properties'
            cand --bootstrap-server 'The broker(s) to connect to (overrides bootstrap.servers)'
            cand --print-metrics 'Print the producer''s counters at the end'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kfk;consumer-perf-test'= {
            cand --bootstrap-server 'The broker(s) to connect to, host:port[,host:port...]'
            cand --broker-list 'The broker(s) to connect to, host:port[,host:port...]'
            cand --topic 'The topic to consume'
            cand --messages 'How many messages to consume'
            cand --group 'The consumer group (default: perf-consumer-NNNNN)'
            cand --fetch-size 'max.partition.fetch.bytes'
            cand --timeout 'Give up when no message arrives for this long (ms)'
            cand --reporting-interval 'The reporting interval (ms) of --show-detailed-stats'
            cand --consumer-property 'Consumer properties KEY=VALUE (repeatable)'
            cand --consumer.config 'A .properties file of consumer properties'
            cand --from-latest 'Start from the latest offset instead of the earliest'
            cand --show-detailed-stats 'Print a line per reporting interval'
            cand --hide-header 'Do not print the header line'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kfk;dump-log'= {
            cand --files 'Comma-separated segment files to dump: `.log`, `.index`, `.timeindex`'
            cand --deep-iteration 'Print every record, not just the batch headers'
            cand --print-data-log 'Print record keys and payloads (implies --deep-iteration)'
            cand --index-sanity-check 'Check each index entry against the log segment beside it and report mismatches'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kfk;completions'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kfk;man'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'kfk;help'= {
            cand broker 'Run a Kafka-compatible broker (`kfk broker start`)'
            cand console-producer 'Read lines from stdin and produce them to a topic (kafka-console-producer)'
            cand console-consumer 'Consume records from a topic and print them (kafka-console-consumer)'
            cand topics 'Create, list, describe, alter and delete topics (kafka-topics)'
            cand consumer-groups 'List, describe, delete consumer groups and reset their offsets (kafka-consumer-groups)'
            cand configs 'Describe and alter topic and broker configs (kafka-configs)'
            cand producer-perf-test 'Measure producer throughput and latency (kafka-producer-perf-test)'
            cand consumer-perf-test 'Measure consumer throughput (kafka-consumer-perf-test)'
            cand dump-log 'Print the batches, records and index entries of log segment files (kafka-dump-log)'
            cand completions 'Print a shell completion script for kfk'
            cand man 'Print kfk''s man page (roff)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'kfk;help;broker'= {
            cand start 'Start a broker and run until SIGINT/SIGTERM (then shut down cleanly)'
        }
        &'kfk;help;broker;start'= {
        }
        &'kfk;help;console-producer'= {
        }
        &'kfk;help;console-consumer'= {
        }
        &'kfk;help;topics'= {
        }
        &'kfk;help;consumer-groups'= {
        }
        &'kfk;help;configs'= {
        }
        &'kfk;help;producer-perf-test'= {
        }
        &'kfk;help;consumer-perf-test'= {
        }
        &'kfk;help;dump-log'= {
        }
        &'kfk;help;completions'= {
        }
        &'kfk;help;man'= {
        }
        &'kfk;help;help'= {
        }
    ]
    $completions[$command]
}
