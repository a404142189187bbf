#!/usr/bin/env bash
# One backlog, every way of draining it, side by side: builds Release once, then runs the load harness's
# `side-by-side` verb. It produces N sample events once into a mock Kafka cluster running as its own process, starts
# ClickHouse 18.16, and drains the same backlog with each contender alone (fresh consumer group, fresh table each
# time, the order reversed every other round): the Ingest worker (checkpoints on into MergeTree and into
# ReplicatedMergeTree, checkpoints off), a bare C# Confluent.Kafka loop with the worker's settings, kcat,
# kcat | clickhouse-client, ClickHouse's Kafka engine + MV.
# It prints a live progress line, then a markdown table (medians over rounds) and writes results.md and
# results.json into the results directory it names (perf/results/side-by-side-<UTC time>/ unless --results DIR).
#   perf/side-by-side.sh [--messages N] [--partitions P] [--rounds R] [--results DIR] [--keep]
#                        [--contenders ingest-eo,ingest-eo-rmt,ingest-alo,bare,kcat,kcat-ch,kafka-engine]
# Defaults: 500,000 messages over 16 partitions (~4.1 MB per partition, under the mock's 5 MiB), 1 round: a few
# minutes on 2 cores. Exit 1 if any contender lost or duplicated rows (or failed), 2 on a usage error.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# The services and tools it runs (librdkafka comes with the NuGet restore); bootstrap only when they are missing.
if [[ ! -x /usr/sbin/clickhouse-server || ! -x /usr/bin/clickhouse-client || ! -x /usr/bin/kcat ]]; then
  scripts/bootstrap.sh
fi
dotnet build Ingest.sln -c Release -nologo -v quiet -clp:ErrorsOnly
# Each contender is bounded inside (30 s without progress, 5 min at most); this is the backstop for the whole run.
exec timeout --kill-after=30 3900 dotnet perf/Ingest.LoadHarness/bin/Release/net10.0/Ingest.LoadHarness.dll side-by-side "$@"
