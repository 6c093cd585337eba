#!/usr/bin/env bash
# Builds a statically linked kfk (glibc with crt-static; no extra toolchain needed) and fails
# unless `ldd` confirms it has no dynamic libraries. Prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --target "$target" --bin kfk >&2
bin="target/$target/release/kfk"
if ldd "$bin" 2>&1 | grep -qE "statically linked|not a dynamic executable"; then
  echo "$bin"
else
  echo "build-static: $bin is not static:" >&2
  ldd "$bin" >&2
  exit 1
fi
