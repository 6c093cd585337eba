#!/usr/bin/env bash
# Broker CPU per GB served (issue 12): loads a topic of 100-byte records once (about 2.3 GB of
# segments), then reads all of it with `kfk consumer-perf-test` and with `kcat -C`, RUNS times
# each, and reports the broker's user+system CPU seconds per GB of segment bytes served, from
# /proc/<pid>/stat. With a second broker binary (e.g. one built from an older commit) each
# round runs both brokers on the same data, alternating, and prints the ratio of the medians.
# Usage: scripts/bench-fetch-cpu.sh [new broker binary] [old broker binary] [runs, default 5]
#   e.g. scripts/bench-fetch-cpu.sh target/release/kfk /tmp/kfk-old/target/release/kfk 5
# Both clients run with their defaults (consumer-perf-test: a 2 MiB receive buffer, as
# Kafka's tool; kcat: the OS default). For scale it ends with the floor: the CPU a bare loop pays
# to push the same files into a loopback socket (sendfile, 1 MiB calls) to a reader that
# discards them.
# Env: RECORDS (default 21000000), WORK (default target/bench-fetch-cpu), TOOLS (default
# "perf kcat").
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
new=${1:-target/release/kfk}
old=${2:-}
runs=${3:-5}
records=${RECORDS:-21000000}
work=${WORK:-target/bench-fetch-cpu}
client=target/release/kfk
port=19292
command -v kcat >/dev/null || { echo "needs kcat"; exit 1; }
rm -rf "$work" && mkdir -p "$work"
tick=$(getconf CLK_TCK)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null || true' EXIT

start() { # binary
  "$1" broker start --data-dir "$work/data" --listeners "PLAINTEXT://127.0.0.1:$port" \
    2>>"$work/broker.log" &
  pid=$!
  for _ in $(seq 100); do
    "$client" topics --bootstrap-server 127.0.0.1:$port --list >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "broker $1 did not start"; exit 1
}
stop() { kill $pid; wait $pid 2>/dev/null || true; pid=; }
cpu() { awk -v t="$tick" '{print ($14+$15)/t}' "/proc/$pid/stat"; }

start "$new"
"$client" topics --bootstrap-server 127.0.0.1:$port --create --topic fetch-cpu \
  --partitions 1 >/dev/null
"$client" producer-perf-test --topic fetch-cpu --num-records "$records" --record-size 100 \
  --throughput -1 --producer-props bootstrap.servers=127.0.0.1:$port acks=1 linger.ms=5 \
  batch.size=65536 >/dev/null
stop
bytes=$(du -cb "$work"/data/fetch-cpu-0/*.log | tail -1 | cut -f1)
gb=$(echo "$bytes/1000000000" | bc -l)
printf 'topic fetch-cpu: %d records of 100 B, %.2f GB of segments\n' "$records" "$gb"

serve() { # binary label tool -> appends "s/GB" to $work/<label>-<tool>
  local c0 c1 t0 t1
  cat "$work"/data/fetch-cpu-0/*.log >/dev/null # from page cache, not the disk
  start "$1"
  c0=$(cpu); t0=$(date +%s.%N)
  case $3 in
    perf)
      "$client" consumer-perf-test --bootstrap-server 127.0.0.1:$port --topic fetch-cpu \
        --messages "$records" --hide-header >/dev/null ;;
    kcat)
      got=$(kcat -b 127.0.0.1:$port -C -t fetch-cpu -o beginning -e -q | wc -l)
      [ "$got" = "$records" ] || { echo "kcat read $got of $records"; exit 1; } ;;
  esac
  c1=$(cpu); t1=$(date +%s.%N)
  stop
  echo "($c1-$c0)/$gb" | bc -l >> "$work/$2-$3"
  printf '%-4s %-5s broker CPU %.3f s/GB, %.1f s wall\n' "$2" "$3" \
    "$(echo "($c1-$c0)/$gb" | bc -l)" "$(echo "$t1-$t0" | bc -l)"
}
median() { sort -g "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

tools=${TOOLS:-perf kcat}
for round in $(seq "$runs"); do
  echo "round $round"
  for tool in $tools; do
    serve "$new" new $tool
    [ -n "$old" ] && serve "$old" old $tool
  done
done
for tool in $tools; do
  n=$(median "$work/new-$tool")
  if [ -n "$old" ]; then
    o=$(median "$work/old-$tool")
    printf '%-5s median of %d: new %.3f s/GB, old %.3f s/GB, new/old %.2f\n' "$tool" "$runs" \
      "$n" "$o" "$(echo "$n/$o" | bc -l)"
  else
    printf '%-5s median of %d: %.3f s/GB\n' "$tool" "$runs" "$n"
  fi
done

python3 - "$work"/data/fetch-cpu-0 <<'EOF'
import glob, os, resource, socket, sys
files = sorted(glob.glob(sys.argv[1] + "/*.log"))
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
child = os.fork()
if child == 0:
    reader = socket.create_connection(listener.getsockname())
    buf = memoryview(bytearray(4 << 20))
    while reader.recv_into(buf):
        pass
    os._exit(0)
conn, _ = listener.accept()
r0, total = resource.getrusage(resource.RUSAGE_SELF), 0
for name in files:
    fd = os.open(name, os.O_RDONLY)
    size, off = os.fstat(fd).st_size, 0
    while off < size:
        off += os.sendfile(conn.fileno(), fd, off, min(1 << 20, size - off))
    total += size
    os.close(fd)
conn.close()
os.waitpid(child, 0)
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
print(f"floor: a bare sendfile loop into a loopback socket: {cpu / (total / 1e9):.3f} s/GB")
EOF
