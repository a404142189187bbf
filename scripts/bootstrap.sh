#!/usr/bin/env bash
# Everything a fresh Debian 12 machine needs before build, tests or the demo. Idempotent and cached:
# a second run takes about a second.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/deps.sh"          # apt: clickhouse-server 18.16, zookeeper 3.8, kcat, prometheus, npm
"$here/chdb.sh"          # chDB 26.7 -> .local/chdb/libchdb.so (modern ClickHouse oracle for tests)
