#!/usr/bin/env bash
# kfk's console tools against Tansu 0.6 (a Kafka-compatible broker nobody here wrote), outside
# cargo test because Tansu takes ~15 min to build:
#   cargo install tansu --version 0.6.0 --locked --features dynostore --root /tmp/tansu
#   scripts/check-tansu.sh /tmp/tansu/bin/tansu
# Memory storage, bound to 127.0.0.1; topics are created first (Tansu does not auto-create).
set -euo pipefail
cd "$(dirname "$0")/.."
tansu=${1:-tansu}
port=19292
cargo build --release -q
kfk=./target/release/kfk
"$tansu" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
  --storage-engine memory://tansu/ --silent >/tmp/tansu.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 2
b=127.0.0.1:$port
for codec in none gzip snappy lz4 zstd; do
  topic="kfk-$codec"
  "$tansu" topic create "$topic" --broker "tcp://$b" --partitions 1 >/dev/null
  seq 1 20000 | sed 's/^/k\t/' | "$kfk" console-producer --bootstrap-server "$b" --topic "$topic" \
    --compression-codec "$codec" --property parse.key=true
  got=$("$kfk" console-consumer --bootstrap-server "$b" --topic "$topic" --from-beginning \
    --max-messages 20000 --timeout-ms 10000 2>/dev/null | md5sum)
  want=$(seq 1 20000 | md5sum)
  [ "$got" = "$want" ] || { echo "tansu $codec: consumed records differ"; exit 1; }
  echo "tansu $codec: 20000 records produced and consumed back identically"
done
"$tansu" topic create keyed --broker "tcp://$b" --partitions 4 >/dev/null
seq 1 2000 | sed 's/^\(.*\)$/key\1\tv\1/' | "$kfk" console-producer --bootstrap-server "$b" --topic keyed --property parse.key=true
n=$("$kfk" console-consumer --bootstrap-server "$b" --topic keyed --from-beginning --max-messages 2000 --timeout-ms 10000 \
  --property print.key=true 2>/dev/null | sort -u | wc -l)
[ "$n" = 2000 ] || { echo "tansu keyed: consumed $n distinct records of 2000"; exit 1; }
echo "tansu keyed: 2000 distinct keyed records over 4 partitions consumed"
