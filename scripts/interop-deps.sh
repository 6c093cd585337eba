#!/usr/bin/env bash
# Builds the other ecosystems' clients the interop tests drive, at the versions pinned in
# tests/interop/versions.env, cached under target/ (run by .ci/run; nothing is committed):
#   target/interop-node/node_modules/kafkajs   (npm)
#   target/interop-go/franz-smoke              (franz-go + kadm, built with the machine's Go)
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
