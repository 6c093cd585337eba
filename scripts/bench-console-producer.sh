#!/usr/bin/env bash
# console-producer vs kcat -P (issue 5): 1,000,000 x 100-byte lines into a release kfk broker,
# both pinned to acks=1, linger 5 ms, batch 16384 bytes, no idempotence, no compression.
# Reports wall time and client CPU (user+sys) of each, and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-target/bench-console}
rm -rf "$work" && mkdir -p "$work"
cargo build --release -q
port=19193
./target/release/kfk broker start --data-dir "$work/data" --listeners "PLAINTEXT://127.0.0.1:$port" 2>"$work/broker.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 1
python3 -c "import sys; sys.stdout.buffer.write(('x'*99+'\n').encode()*1000000)" > "$work/lines.txt"
measure() { /usr/bin/time -f "%e %U %S" "$@" < "$work/lines.txt" 2>&1 >/dev/null | tail -1; }
read -r kw ku ks <<<"$(measure kcat -b 127.0.0.1:$port -P -t kcat-bench -X acks=1 -X linger.ms=5 -X batch.size=16384 -X enable.idempotence=false -X compression.codec=none)"
read -r fw fu fs <<<"$(measure ./target/release/kfk console-producer --bootstrap-server 127.0.0.1:$port --topic kfk-bench --request-required-acks 1 --timeout 5 --batch-size 16384 --producer-property enable.idempotence=false --compression-codec none)"
printf 'kcat -P:          wall %6.2f s, client CPU %6.2f s\n' "$kw" "$(echo "$ku+$ks" | bc -l)"
printf 'kfk console-prod: wall %6.2f s, client CPU %6.2f s\n' "$fw" "$(echo "$fu+$fs" | bc -l)"
printf 'ratio kfk/kcat:   wall %.2f, client CPU %.2f\n' "$(echo "$fw/$kw" | bc -l)" "$(echo "($fu+$fs)/($ku+$ks)" | bc -l)"
