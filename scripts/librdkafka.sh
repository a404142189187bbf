#!/usr/bin/env bash
# Builds librdkafka 2.15.1 from source and wraps it as a local NuGet package `librdkafka.redist` 2.15.1.
#
# Why: Confluent.Kafka 2.15.1 P/Invokes librdkafka 2.15.1, but the NuGet copy served here lacks
# librdkafka.redist, and Debian's librdkafka (2.0.2) lacks symbols 2.15.1 calls. The npm package
# @confluentinc/kafka-javascript@1.10.1 ships librdkafka 2.15.1's full source in deps/librdkafka.
#
# Output (all ignored by git): .local/feed/librdkafka.redist.2.15.1.nupkg, which nuget.config maps
# `librdkafka.redist` to. Idempotent: a no-op when the package exists.
set -euo pipefail

VERSION=2.15.1
NPM_PACKAGE=@confluentinc/kafka-javascript@1.10.1   # its deps/librdkafka is librdkafka v2.15.1
root=$(cd "$(dirname "$0")/.." && pwd)
cache=$root/.local/cache
build=$root/.local/build/librdkafka-$VERSION
feed=$root/.local/feed
nupkg=$feed/librdkafka.redist.$VERSION.nupkg

fail() { echo "librdkafka: $*" >&2; exit 1; }

[ -f "$nupkg" ] && exit 0
mkdir -p "$cache" "$feed"
# Parallel restores (several projects) may call this at once: one builds, the others wait and find it done.
exec 9>"$root/.local/librdkafka.lock"
flock 9
[ -f "$nupkg" ] && exit 0

tgz=$cache/confluentinc-kafka-javascript-1.10.1.tgz
if [ ! -f "$tgz" ]; then
  echo "librdkafka: fetching $NPM_PACKAGE (npm pack)"
  (cd "$cache" && npm pack "$NPM_PACKAGE" --silent >/dev/null 2>&1) || fail "npm pack $NPM_PACKAGE failed (is npm installed and the npm registry reachable?)"
  [ -f "$tgz" ] || fail "npm pack did not produce $tgz"
fi

if [ ! -f "$build/src/librdkafka.so.1" ]; then
  rm -rf "$build" && mkdir -p "$build"
  tar -xzf "$tgz" -C "$build" --strip-components=3 package/deps/librdkafka || fail "cannot unpack deps/librdkafka from $tgz"
  grep -q "RD_KAFKA_VERSION 0x020f01ff" "$build/src/rdkafka.h" || fail "the source in $tgz is not librdkafka $VERSION"
  echo "librdkafka: building $VERSION (configure + make libs, ~40 s on 2 cores)"
  (cd "$build" && ./configure --disable-curl >"$build.configure.txt" 2>&1) \
    || fail "./configure failed; see $build.configure.txt (needs gcc, libssl-dev zlib1g-dev libzstd-dev liblz4-dev libsasl2-dev: scripts/deps.sh)"
  (cd "$build" && make -j"$(nproc)" libs >"$build.make.txt" 2>&1) || fail "make libs failed; see $build.make.txt"
  [ -f "$build/src/librdkafka.so.1" ] || fail "make finished without $build/src/librdkafka.so.1"
fi

# A nupkg is a zip with a .nuspec at its root; restore reads runtimes/<rid>/native as native assets,
# so `dotnet build` copies librdkafka.so next to Confluent.Kafka where its DllImport("librdkafka") finds it.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/runtimes/linux-x64/native"
cp "$build/src/librdkafka.so.1" "$stage/runtimes/linux-x64/native/librdkafka.so"
cat >"$stage/librdkafka.redist.nuspec" <<NUSPEC
<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>librdkafka.redist</id>
    <version>$VERSION</version>
    <authors>librdkafka (Magnus Edenhill, Confluent); built locally by scripts/librdkafka.sh</authors>
    <license type="expression">BSD-2-Clause</license>
    <description>librdkafka $VERSION for linux-x64, built from the source shipped in $NPM_PACKAGE.</description>
  </metadata>
</package>
NUSPEC
(cd "$stage" && zip -qr -X "$nupkg.tmp" librdkafka.redist.nuspec runtimes) || fail "zip failed"
mv "$nupkg.tmp" "$nupkg"
echo "librdkafka: packed $nupkg"
