#!/usr/bin/env bash
# Broker throughput with kcat (issue 4): 1,000,000 x 100-byte and 200,000 x 1 KiB records
# produced into a release kfk broker and read back, kcat pinned to acks=1, linger 5 ms,
# batch.size 1000000, no idempotence, no compression. Reports records/s, MB/s, broker CPU
# seconds per million records, peak RSS, and dd into the same file system for comparison.
# Usage: scripts/bench-broker-kcat.sh [work dir, default target/bench-broker]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-target/bench-broker}
rm -rf "$work" && mkdir -p "$work"
cargo build --release -q
port=19192
./target/release/kfk broker start --data-dir "$work/data" --listeners "PLAINTEXT://127.0.0.1:$port" 2>"$work/broker.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 1
tick=$(getconf CLK_TCK)
cpu() { awk -v t="$tick" '{print ($14+$15)/t}' "/proc/$pid/stat"; }
kcat_p=(-X acks=1 -X linger.ms=5 -X batch.size=1000000 -X enable.idempotence=false -X compression.codec=none)

run() { # name count size
  local name=$1 count=$2 size=$3 input="$work/$1.txt"
  python3 -c "import sys; line=('x'*($size-1)+'\n').encode(); sys.stdout.buffer.write(line*$count)" > "$input"
  local c0 t0 t1 c1 t2 c2 got mb
  c0=$(cpu); t0=$(date +%s.%N)
  kcat -b 127.0.0.1:$port -P -t "$name" "${kcat_p[@]}" < "$input"
  t1=$(date +%s.%N); c1=$(cpu)
  got=$(kcat -b 127.0.0.1:$port -C -t "$name" -o beginning -e -q | wc -l)
  t2=$(date +%s.%N); c2=$(cpu)
  [ "$got" = "$count" ] || { echo "read back $got of $count"; exit 1; }
  mb=$(echo "$count*$size/1000000" | bc -l)
  printf '%-10s produce: %8.0f records/s %7.1f MB/s, broker CPU %.2f s per million records\n' "$name" \
    "$(echo "$count/($t1-$t0)" | bc -l)" "$(echo "$mb/($t1-$t0)" | bc -l)" "$(echo "($c1-$c0)*1000000/$count" | bc -l)"
  printf '%-10s consume: %8.0f records/s %7.1f MB/s, broker CPU %.2f s per million records\n' "$name" \
    "$(echo "$count/($t2-$t1)" | bc -l)" "$(echo "$mb/($t2-$t1)" | bc -l)" "$(echo "($c2-$c1)*1000000/$count" | bc -l)"
  echo "$(echo "$mb/($t1-$t0)" | bc -l)" > "$work/$name.mbps"
}
run small 1000000 100
run large 200000 1024
echo "broker peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
# dd into the same file system, in MB/s (dd prints kB/s, MB/s or GB/s).
dd_mbps() {
  dd if=/dev/zero of="$work/dd.bin" bs=1M count=2048 "$@" 2>&1 | awk '/copied/ {
    v=$(NF-1); u=$NF; if (u=="GB/s") v*=1000; else if (u=="kB/s") v/=1000; print v }'
}
plain=$(dd_mbps); synced=$(dd_mbps conv=fdatasync); rm -f "$work/dd.bin"
echo "dd bs=1M count=2048: ${plain} MB/s without fdatasync, ${synced} MB/s with conv=fdatasync"
for n in small large; do
  r=$(cat "$work/$n.mbps")
  printf '%-10s produce %.0f MB/s = %.2f of dd, %.2f of dd+fdatasync\n' "$n" "$r" "$(echo "$r/$plain" | bc -l)" "$(echo "$r/$synced" | bc -l)"
done
