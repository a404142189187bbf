#!/usr/bin/env bash
# The demo: real mock Kafka + ClickHouse 18.16, the real worker process, sample events, a live progress line,
# and a summary; exits non-zero unless every produced message is exactly one row.
#   scripts/demo.sh [--messages N] [--partitions P]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/bootstrap.sh"
dotnet build Ingest.sln -c Release -nologo -v quiet -clp:ErrorsOnly
exec dotnet tools/Ingest.LocalStack/bin/Release/net10.0/Ingest.LocalStack.dll demo "$@"
