#!/bin/bash
# Probe e2b: ALTER DELETE on a healthy ReplicatedMergeTree of subcluster a (no quorum-failed INSERT in its history):
# time until system.mutations.is_done on a1 and b1.
. "$(dirname "$0")/env.sh"
for u in $A1 $B1; do q $u "CREATE TABLE IF NOT EXISTS default.mt (_partition UInt32, _offset Int64) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/default.mt', '{replica}') ORDER BY (_partition, _offset)" >/dev/null; done
for i in 0 1 2 3 4; do q $A1 "INSERT INTO default.mt SELECT 0, $((i*1000)) + number FROM system.numbers LIMIT 1000" >/dev/null; done
t0=$(date +%s.%N); q $A1 "ALTER TABLE default.mt DELETE WHERE _offset BETWEEN 1500 AND 2499"
for u in $A1 $B1; do for i in $(seq 1 150); do [ "$(curl -s $u --data-binary "SELECT count() FROM system.mutations WHERE table='mt' AND is_done=0")" = 0 ] && break; sleep 0.2; done
  echo "$u: is_done after $(echo "$(date +%s.%N)-$t0"|bc) s, rows $(curl -s $u --data-binary "SELECT count() FROM default.mt")"; done
