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
#   scripts/kafka-reference.sh start DIR [PID]    start a single-node Apache Kafka (KRaft,
#                                                 combined broker+controller) on free loopback
#                                                 ports with its data in DIR; prints its
#                                                 bootstrap address once it answers. With PID,
#                                                 it is stopped and DIR removed when that
#                                                 process ends.
#   scripts/kafka-reference.sh stop DIR           stop it
#
# KAFKA_REFERENCE_PROPS (newline-separated key=value lines) is appended to the started
# broker's server.properties.
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
kafka-configs org.apache.kafka.tools.ConfigCommand
kafka-get-offsets org.apache.kafka.tools.GetOffsetShell
kafka-delete-records org.apache.kafka.tools.DeleteRecordsCommand
kafka-log-dirs org.apache.kafka.tools.LogDirsCommand
kafka-producer-perf-test org.apache.kafka.tools.ProducerPerformance
kafka-consumer-perf-test org.apache.kafka.tools.ConsumerPerformance
kafka-dump-log org.apache.kafka.tools.DumpLogSegments
kafka-verifiable-producer org.apache.kafka.tools.VerifiableProducer
kafka-verifiable-consumer org.apache.kafka.tools.VerifiableConsumer
kafka-e2e-latency org.apache.kafka.tools.EndToEndLatency
kafka-metadata-quorum org.apache.kafka.tools.MetadataQuorumCommand
kafka-reassign-partitions org.apache.kafka.tools.reassign.ReassignPartitionsCommand
kafka-leader-election org.apache.kafka.tools.LeaderElectionCommand
kafka-transactions org.apache.kafka.tools.TransactionsCommand
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

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The JVM flags of kafka-server-start.sh and kafka-run-class.sh.
KAFKA_JVM="-Xms1G -Xmx1G -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20
  -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
  -XX:MaxInlineLevel=15 -Djava.awt.headless=true"

start() {
  local work=$1 watch=${2:-} port cport cluster
  fetch >/dev/null
  mkdir -p "$work"
  work=$(cd "$work" && pwd)
  port=$(free_port)
  cport=$(free_port)
  while [ "$cport" = "$port" ]; do cport=$(free_port); done
  # The Maven jars carry no config/ or log4j2 files: write both.
  cat >"$work/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$work/data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
${KAFKA_REFERENCE_PROPS:-}
EOF
  cat >"$work/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $work/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
EOF
  cluster=$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null)
  java -cp "$libs/*" -Dlog4j2.configurationFile="$work/log4j2.properties" \
    kafka.tools.StorageTool format -t "$cluster" -c "$work/server.properties" >"$work/format.log" 2>&1
  # shellcheck disable=SC2086
  nohup java $KAFKA_JVM -Dlog4j2.configurationFile="$work/log4j2.properties" \
    -cp "$libs/*" kafka.Kafka "$work/server.properties" >"$work/stdout.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$work/pid"
  echo "127.0.0.1:$port" >"$work/bootstrap"
  if [ -n "$watch" ]; then
    # ...and its dir removed once it is gone.
    (while kill -0 "$watch" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done
     kill "$pid" 2>/dev/null
     while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
     rm -rf "$work") >/dev/null 2>&1 </dev/null &
  fi
  for _ in $(seq 600); do
    if grep -q "Kafka Server started" "$work/server.log" 2>/dev/null; then
      echo "127.0.0.1:$port"
      return
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "kafka-reference.sh: Apache Kafka did not start; see $work/server.log" >&2
  kill "$pid" 2>/dev/null || true
  exit 1
}

stop() {
  local pid
  pid=$(cat "$1/pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 300); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

case "${1:-}" in
  fetch) fetch ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$1" ;;
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
    echo "usage: scripts/kafka-reference.sh fetch | classpath | run CLASS ARGS... | tool NAME ARGS... | tools | start DIR [PID] | stop DIR" >&2
    exit 2
    ;;
esac
