#!/usr/bin/env bash
# The reference: Apache Kafka's jars (broker, tools, Java client, Streams) at the release
# pinned in tests/interop/versions.env, resolved from Maven Central with mvn into
# target/kafka-reference/<version>/libs (cached; nothing is committed).
#
#   scripts/kafka-reference.sh fetch              resolve the jars (once), print the libs dir
#   scripts/kafka-reference.sh classpath          print the classpath
#   scripts/kafka-reference.sh run CLASS ARGS...  run a main class of the reference
#   scripts/kafka-reference.sh tool NAME ARGS...  run a tool by its script name, e.g.
#                                                 kafka-consumer-groups (see TOOLS below)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=/dev/null
source "$root/tests/interop/versions.env"
dir="$root/target/kafka-reference/$KAFKA_VERSION"
libs="$dir/libs"

# Main classes of the pinned release, by script name (they move between releases; the test
# tests/kafka_reference.rs runs each with --help).
TOOLS="
kafka-consumer-groups org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
kafka-console-producer org.apache.kafka.tools.ConsoleProducer
kafka-console-consumer org.apache.kafka.tools.consumer.ConsoleConsumer
kafka-topics org.apache.kafka.tools.TopicCommand
kafka-configs kafka.admin.ConfigCommand
kafka-get-offsets org.apache.kafka.tools.GetOffsetShell
kafka-delete-records org.apache.kafka.tools.DeleteRecordsCommand
kafka-producer-perf-test org.apache.kafka.tools.ProducerPerformance
kafka-consumer-perf-test org.apache.kafka.tools.ConsumerPerformance
kafka-dump-log kafka.tools.DumpLogSegments
kafka-verifiable-producer org.apache.kafka.tools.VerifiableProducer
kafka-verifiable-consumer org.apache.kafka.tools.VerifiableConsumer
kafka-e2e-latency org.apache.kafka.tools.EndToEndLatency
kafka-metadata-quorum org.apache.kafka.tools.MetadataQuorumCommand
kafka-reassign-partitions org.apache.kafka.tools.reassign.ReassignPartitionsCommand
kafka-leader-election org.apache.kafka.tools.LeaderElectionCommand
kafka-storage kafka.tools.StorageTool
kafka-server kafka.Kafka
"

fetch() {
  if [ ! -f "$dir/.complete" ]; then
    mkdir -p "$libs"
    mvn -q -B -f "$root/tests/interop/java/pom.xml" \
      -Dmaven.repo.local="$root/target/m2" \
      -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DoutputDirectory="$libs" >&2
    touch "$dir/.complete"
  fi
  echo "$libs"
}

main_class() {
  echo "$TOOLS" | awk -v name="$1" '$1 == name { print $2 }'
}

case "${1:-}" in
  fetch) fetch ;;
  classpath) fetch >/dev/null; echo "$libs/*" ;;
  run)
    shift
    fetch >/dev/null
    exec java -cp "$libs/*" "$@"
    ;;
  tool)
    shift
    class=$(main_class "${1:-}")
    [ -n "$class" ] || { echo "kafka-reference.sh: no tool named '${1:-}'" >&2; exit 2; }
    shift
    fetch >/dev/null
    exec java -cp "$libs/*" "$class" "$@"
    ;;
  tools) echo "$TOOLS" | awk 'NF == 2' ;;
  *)
    echo "usage: scripts/kafka-reference.sh fetch | classpath | run CLASS ARGS... | tool NAME ARGS... | tools" >&2
    exit 2
    ;;
esac
