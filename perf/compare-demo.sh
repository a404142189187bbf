#!/usr/bin/env bash
# End-to-end before/after in one go: builds Release once, then runs the demo's throughput run (demo --throughput:
# mock Kafka, the real worker process, ClickHouse 18.16, all on this machine) back to back with the old path
# (--format JSONEachRow: ClickHouse parses the JSON) and the new one (--format Native: the worker decodes into
# columns), same message count, and prints both summaries with the load average before each run, and where the CPU
# went during each run: seconds of CPU used by the demo process (the producer and the in-process mock Kafka
# brokers), the worker and ClickHouse (sampled from /proc every 0.2 s), and how busy the whole machine was
# (/proc/stat; includes anything else running).
#   perf/compare-demo.sh [--messages N] [--partitions P] [--repeat R] [--native-first] [--checkpoints]
# --checkpoints compares Native with offset checkpoints off (at-least-once) and on (exactly-once) instead.
# Defaults: 2,000,000 messages over 64 partitions (~4.1 MB per partition, under the mock's 5 MiB), 1 round,
# JSONEachRow first (--native-first swaps the order, to check that running second is not what makes a difference).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

messages=2000000
partitions=64
repeat=1
variants="JSONEachRow Native"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --messages) messages=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --native-first) variants="Native JSONEachRow"; shift ;;
    --checkpoints) variants="Native:off Native:on"; shift ;;
    *) echo "usage: perf/compare-demo.sh [--messages N] [--partitions P] [--repeat R] [--native-first] [--checkpoints]" >&2; exit 2 ;;
  esac
done

# The services the demo runs (librdkafka comes with the NuGet restore); bootstrap only when they are missing.
if [[ ! -x /usr/sbin/clickhouse-server || ! -f /usr/share/java/zookeeper.jar ]]; then
  scripts/bootstrap.sh
fi
dotnet build Ingest.sln -c Release -nologo -v quiet -clp:ErrorsOnly
demo=tools/Ingest.LocalStack/bin/Release/net10.0/Ingest.LocalStack.dll
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

echo "compare-demo: $messages messages over $partitions partitions, $repeat round(s), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
# utime+stime of a process in clock ticks (fields 14 and 15 of /proc/PID/stat, counted after the "(comm)").
ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }
# busy and total jiffies of the whole machine.
machine() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }

# Runs the demo in the background, sampling its and its children's CPU until it exits; prints a CPU line.
run_demo() {
  local variant=$1 log=$2 format=${1%%:*} checkpoints=on
  [[ $variant == *:* ]] && checkpoints=${variant##*:}
  read -r busy0 total0 < <(machine)
  timeout 900 dotnet "$demo" demo --throughput --messages "$messages" --partitions "$partitions" --format "$format" --checkpoints "$checkpoints" >"$log" 2>&1 &
  local launcher=$! demo_pid="" demo_t=0
  # Last CPU reading of every child (the worker, each ClickHouse server, each ZooKeeper), by pid.
  declare -A child_ticks=() child_kind=()
  while kill -0 "$launcher" 2>/dev/null; do
    [[ -z $demo_pid ]] && demo_pid=$(pgrep -P "$launcher" | head -1 || true)
    if [[ -n $demo_pid ]]; then
      t=$(ticks "$demo_pid"); [[ -n $t ]] && demo_t=$t
      for child in $(pgrep -P "$demo_pid" || true); do
        t=$(ticks "$child") || continue
        [[ -z $t ]] && continue
        case "$(tr '\0' ' ' <"/proc/$child/cmdline" 2>/dev/null)" in
          *Ingest.Worker.dll*) child_kind[$child]=worker ;;
          *clickhouse-server*) child_kind[$child]=clickhouse ;;
          *QuorumPeerMain*) child_kind[$child]=zookeeper ;;
          *) continue ;;
        esac
        child_ticks[$child]=$t
      done
    fi
    sleep 0.2
  done
  wait "$launcher" || return 1
  read -r busy1 total1 < <(machine)
  local hz worker_t=0 ch_t=0 zk_t=0
  for pid in "${!child_ticks[@]}"; do
    case ${child_kind[$pid]} in
      worker) worker_t=$((worker_t + child_ticks[$pid])) ;;
      clickhouse) ch_t=$((ch_t + child_ticks[$pid])) ;;
      zookeeper) zk_t=$((zk_t + child_ticks[$pid])) ;;
    esac
  done
  hz=$(getconf CLK_TCK)
  awk -v d="$demo_t" -v w="$worker_t" -v c="$ch_t" -v z="$zk_t" -v hz="$hz" -v b=$((busy1 - busy0)) -v t=$((total1 - total0)) -v n="$(nproc)" 'BEGIN {
    printf "  CPU seconds            demo (producer + mock Kafka) %.1f   worker %.1f   ClickHouse %.1f   ZooKeeper %.1f   machine busy %.0f%% of %d cores over the run\n", d/hz, w/hz, c/hz, z/hz, 100*b/t, n }' >>"$log"
}

status=0
for round in $(seq 1 "$repeat"); do
  for variant in $variants; do
    log="$logs/$round-$variant.log"
    echo
    echo "=== round $round: $variant   (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
    # A bounded run: the demo stops by itself (all rows in, or 60 s without progress); timeout is the backstop.
    if ! run_demo "$variant" "$log"; then
      status=1
      tail -20 "$log"
    fi
    # Progress (every 2 s): rows trailing produced by about one batch age means the worker keeps up with the producer.
    grep '^demo: produced' "$log" || true
    sed -n '/^demo summary/,$p' "$log"
    echo "(load after: $(cut -d' ' -f1-3 /proc/loadavg))"
  done
done

echo
echo "rates (rows/s, produce start -> all rows in ClickHouse):"
for round in $(seq 1 "$repeat"); do
  line="  round $round:"
  for variant in $variants; do
    rate=$(awk '/^  rate/ {print $2}' "$logs/$round-$variant.log")
    line+="   $variant ${rate:-failed}"
  done
  echo "$line"
done
exit $status
