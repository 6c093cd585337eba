# Shared by scripts/bench-vs-kafka.sh and scripts/bench-replication.sh (sourced, not run).
#
# The caller sets `work` (a results dir), `recording` (1 records, 0 is a warm-up pass whose
# figures are dropped) and defines `cpu` (the brokers' user+system CPU seconds so far).
# Figures go to "$work/<metric>.<kind>", one line per round; `median` reads them back.

command -v bc >/dev/null || { echo "needs bc" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian: time)" >&2; exit 1; }
recording=1

record() { # metric kind value
  if [ "$recording" = 1 ]; then echo "$3" >>"$work/$1.$2"; fi
}

# Runs one client command (its stdout is passed on) and records, under `metric`: the brokers'
# CPU seconds per GB of `bytes` payload (`-cpu`), the cores the client and the brokers used
# over its wall time (`-client-cores`, `-broker-cores`) and the wall time (`-secs`).
client() { # metric kind bytes command...
  local metric=$1 kind=$2 bytes=$3 c0 c1 e u s
  shift 3
  c0=$(cpu)
  /usr/bin/time -f "%e %U %S" -o "$work/time" "$@"
  c1=$(cpu)
  read -r e u s < <(tail -1 "$work/time")
  e=$(echo "if ($e < 0.01) 0.01 else $e" | bc -l)
  record "$metric-cpu" "$kind" "$(echo "($c1-$c0)/($bytes/1000000000)" | bc -l)"
  record "$metric-client-cores" "$kind" "$(echo "($u+$s)/$e" | bc -l)"
  record "$metric-broker-cores" "$kind" "$(echo "($c1-$c0)/$e" | bc -l)"
  record "$metric-secs" "$kind" "$e"
}

median() { sort -g "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# What limited `metric` for `kind`, from the median cores used: the side using more CPU when
# it kept at least one core busy or the machine was nearly saturated, otherwise neither (the
# run waited on round trips).
limit() { # metric kind
  local c b
  c=$(median "$work/$1-client-cores.$2")
  b=$(median "$work/$1-broker-cores.$2")
  awk -v c="$c" -v b="$b" -v n="$(nproc)" 'BEGIN {
    m = (c > b) ? c : b
    side = (m >= 0.9 || c + b >= 0.8 * n) ? ((c > b) ? "client" : "broker") : "round trips"
    printf "%s (client %.1f, broker %.1f cores)", side, c, b
  }'
}

# One Markdown row: label, both medians in `format`, their ratio, and what limited each side
# when `limits` is set.
row() { # label metric format [limits]
  local k a r l=" |"
  k=$(median "$work/$2.kfk")
  a=$(median "$work/$2.kafka")
  if [ -n "${4:-}" ]; then l=" kfk: $(limit "${2%-*}" kfk); Kafka: $(limit "${2%-*}" kafka) |"; fi
  # A ratio to nothing (both latencies under a millisecond) is no figure.
  r=$(awk -v k="$k" -v a="$a" 'BEGIN { if (a == 0) print "—"; else printf "%.2f", k / a }')
  printf "| %s | $3 | $3 | %s |%s\n" "$1" "$k" "$a" "$r" "$l"
}

load_note() {
  echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
}
