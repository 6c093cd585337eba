#!/usr/bin/env bash
# Builds the other ecosystems' clients the interop tests drive, at the versions pinned in
# tests/interop/versions.env, cached under target/ (run by .ci/run; nothing is committed):
#   target/interop-node/node_modules/kafkajs   (npm)
#   target/interop-go/franz-smoke              (franz-go + kadm, built with the machine's Go)
#   target/kafka-python-suite/kafka_python-<v> (kafka-python's own test suite: its PyPI sdist)
# aiokafka comes from pip in .ci/run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=/dev/null
source "$root/tests/interop/versions.env"

node_dir="$root/target/interop-node"
if [ ! -f "$node_dir/node_modules/kafkajs/package.json" ] ||
   ! grep -q "\"version\": \"$KAFKAJS_VERSION\"" "$node_dir/node_modules/kafkajs/package.json"; then
  mkdir -p "$node_dir"
  cp "$root/tests/interop/kafkajs/package.json" "$node_dir/"
  (cd "$node_dir" && npm install --no-audit --no-fund --silent)
fi

export GOMODCACHE="$root/target/go/mod" GOCACHE="$root/target/go/cache" GOFLAGS=-modcacherw
mkdir -p "$root/target/interop-go"
(cd "$root/tests/interop/franz" && go build -o "$root/target/interop-go/franz-smoke" .)

# kafka-python's integration suite, from the source distribution of the pinned release (its
# fixture wants a Kafka distribution dir to exist even against an external broker).
suite_dir="$root/target/kafka-python-suite"
suite="$suite_dir/kafka_python-$KAFKA_PYTHON_VERSION"
if [ ! -d "$suite/test/integration" ]; then
  mkdir -p "$suite_dir"
  python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
    -d "$suite_dir" "kafka-python==$KAFKA_PYTHON_VERSION"
  tar -xzf "$suite_dir/kafka_python-$KAFKA_PYTHON_VERSION.tar.gz" -C "$suite_dir"
fi
mkdir -p "$suite/servers/4.0.0/kafka-bin"
# The sdist leaves out the suite's package file and its service module: kfk's stand-ins.
cp "$root/tests/interop/kafka_python_suite/test/__init__.py" \
   "$root/tests/interop/kafka_python_suite/test/service.py" "$suite/test/"
