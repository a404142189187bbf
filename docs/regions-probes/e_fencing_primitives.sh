#!/bin/bash
# Probe e: primitives a fencing design could use on 18.16.
. "$(dirname "$0")/env.sh"
B="INSERT INTO default.ev VALUES (7,7,700,'dedup-x'),(7,7,701,'dedup-x')"
[ "$1" = from3 ] || {
echo "-- 1. same block twice into subcluster a (a1 then b1), then into subcluster b (a2)"; q $A1 "$B"; q $B1 "$B"; q $A2 "$B"
q $A1 "SELECT count() FROM default.ev_all WHERE v='dedup-x'"
echo "-- 1b. same rows, one value differs (an epoch column in the row would do this) -> not a duplicate block"; q $A1 "INSERT INTO default.ev VALUES (7,7,700,'dedup-x'),(7,7,701,'dedup-y')"; q $A1 "SELECT count() FROM default.ev WHERE _partition=7"
echo "-- 1c. same rows, insert_deduplicate=0"; qs $A1 "insert_deduplicate=0" "$B"; q $A1 "SELECT count() FROM default.ev WHERE _partition=7"
echo "-- 2. ALTER DELETE (mutation) on ReplicatedMergeTree"; t0=$(date +%s.%N); q $A1 "ALTER TABLE default.ev DELETE WHERE _partition = 7 AND _offset >= 701"
for i in $(seq 1 100); do [ "$(curl -s $A1 --data-binary "SELECT count() FROM system.mutations WHERE table='ev' AND is_done=0")" = 0 ] && break; sleep 0.1; done; echo "mutation wait ended after $(echo "$(date +%s.%N)-$t0"|bc) s (10 s cap)"
sleep 0.5; q $B1 "SELECT count() FROM default.ev WHERE _partition=7"; q $A1 "SELECT mutation_id, command, is_done FROM system.mutations WHERE table='ev' FORMAT TSV"
}
echo "-- 3. ALTER UPDATE"; q $A1 "ALTER TABLE default.ev UPDATE v = 'upd' WHERE _partition = 7"
echo "-- 4. mutation while Keeper of that subcluster is frozen"; kill -STOP $PID_ZKA; sleep 5; CURL_MAX=20 q $A1 "ALTER TABLE default.ev DELETE WHERE _partition = 99"; kill -CONT $PID_ZKA
echo "-- 5. ReplacingMergeTree version as epoch<<40|seq: a stale owner's later row with a lower epoch loses"
q $A1 "INSERT INTO default.ckpt VALUES ('g','t',5,100,2,'b',$(( (2<<40) + 1 )))"; q $A1 "INSERT INTO default.ckpt VALUES ('g','t',5,999,1,'a',$(( (1<<40) + 99999 )))"
q $A1 "SELECT argMax(last_offset, version), argMax(epoch, version) FROM default.ckpt WHERE consumer_group='g' AND partition=5 FORMAT TSV"
echo "-- 6. system.zookeeper is readable from SQL (a worker could watch the quorum/log nodes), not writable"; q $A1 "SELECT name FROM system.zookeeper WHERE path='/clickhouse/tables/a/default.ev' FORMAT TSV" | tr '\n' ' '; echo
echo "-- 7. ReplicatedMergeTree read of system.replicas on the remote-subcluster local replica (heartbeat freshness)"; q $A2 "SELECT table, is_readonly, absolute_delay, last_queue_update FROM system.replicas FORMAT TSV"
