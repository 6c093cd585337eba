#!/usr/bin/env bash
# A shell pipeline: follow a log file into a topic, then count the distinct lines of the first
# thousand records. Needs a broker (kfk broker start) on localhost:9092.
#   examples/pipeline.sh /var/log/syslog
set -euo pipefail
file=${1:-/var/log/syslog}
kfk topics --bootstrap-server localhost:9092 --create --topic lines --if-not-exists
tail -n 1000 -F "$file" | kfk console-producer --bootstrap-server localhost:9092 --topic lines &
producer=$!
trap 'kill $producer 2>/dev/null' EXIT
kfk console-consumer --bootstrap-server localhost:9092 --topic lines --from-beginning \
    --max-messages 1000 | sort | uniq -c | sort -rn | head
