#!/usr/bin/env bash
# Installs the machine packages the local stack needs (Debian 12). Idempotent: does nothing when all are there.
#   clickhouse-server 18.16 + zookeeper 3.8 : the real ClickHouse topologies the tests and the demo run
#   kcat                                    : a second, non-.NET Kafka client for the stack tests
#   prometheus                              : promtool checks our /metrics output; a real Prometheus scrapes it in tests
#   npm                                     : scripts/chdb.sh fetches chDB's npm package (npm pack)
# librdkafka comes prebuilt from NuGet (librdkafka.redist); no compiler or -dev packages are needed.
set -euo pipefail

packages=(clickhouse-server clickhouse-client zookeeper default-jre-headless kcat
          unzip curl prometheus)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || { echo "deps: apt-get update failed" >&2; exit 1; }
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || { echo "deps: apt-get install ${missing[*]} failed" >&2; exit 1; }
# The Debian packages try to start system services; the stack runs its own private instances instead.
