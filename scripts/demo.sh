#!/usr/bin/env bash
# The demo, a disaster-recovery story on real services (mock Kafka, ZooKeeper 3.8, ClickHouse 18.16) and the real
# worker and ingest CLI: regions a and b dual-ingest one topic under steady load; region a takes a backup point, its
# table is dropped, `ingest restore` restores it and its worker replays from the point. Exits non-zero unless region a
# ends equal to region b row for row, with every produced message exactly one row in each. About two minutes.
#   scripts/demo.sh
# The regions story (two subclusters; region a lost, `ingest takeover`, region a back, `ingest failback`, `ingest
# reconcile`; exits non-zero unless the Distributed table holds every message exactly once):
#   scripts/demo.sh --regions
# The throughput run (one region, one worker, N events as fast as they go; exits non-zero unless exactly-once):
#   scripts/demo.sh --throughput [--messages N] [--partitions P] [--format Native|JSONEachRow] [--checkpoints on|off]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/bootstrap.sh"
dotnet build Ingest.sln -c Release -nologo -v quiet -clp:ErrorsOnly
exec dotnet tools/Ingest.LocalStack/bin/Release/net10.0/Ingest.LocalStack.dll demo "$@"
