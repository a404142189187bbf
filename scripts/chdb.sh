#!/usr/bin/env bash
# Fetches chDB 26.7 (embedded modern ClickHouse) as .local/chdb/libchdb.so: the oracle that proves our
# Native blocks and DDL are accepted by current ClickHouse, including types 18.16 lacks.
# The npm package @chdb/lib-linux-x64-gnu ships libchdb.so (177 MB tarball, 566 MB unpacked); cached, idempotent.
set -euo pipefail

NPM_PACKAGE=@chdb/lib-linux-x64-gnu@26.7.3-stable.1
root=$(cd "$(dirname "$0")/.." && pwd)
cache=$root/.local/cache
out=$root/.local/chdb

fail() { echo "chdb: $*" >&2; exit 1; }

[ -f "$out/libchdb.so" ] && exit 0
mkdir -p "$cache" "$out"
tgz=$cache/chdb-lib-linux-x64-gnu-26.7.3-stable.1.tgz
if [ ! -f "$tgz" ]; then
  echo "chdb: fetching $NPM_PACKAGE (npm pack, ~180 MB)"
  (cd "$cache" && npm pack "$NPM_PACKAGE" --silent >/dev/null 2>&1) || fail "npm pack $NPM_PACKAGE failed (is the npm registry reachable?)"
  [ -f "$tgz" ] || fail "npm pack did not produce $tgz"
fi
# Unpack beside, then rename: an interrupted run never leaves a truncated libchdb.so that looks ready.
rm -rf "$out/.unpack" && mkdir -p "$out/.unpack"
tar -xzf "$tgz" -C "$out/.unpack" --strip-components=1 package/libchdb.so || fail "cannot unpack libchdb.so from $tgz"
mv "$out/.unpack/libchdb.so" "$out/libchdb.so" && rm -rf "$out/.unpack"
echo "chdb: ready at $out/libchdb.so"
