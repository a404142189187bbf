#!/bin/bash
# Probe d: kill region a (zk-a, a1, a2 with SIGKILL), then read from region b: subcluster a's checkpoint table on
# b1 (read-only replica), the Distributed table from b1/b2 under several settings, and what writes answer.
. "$(dirname "$0")/env.sh"
q $A1 "INSERT INTO default.ckpt VALUES ('g.a','t',0,41999,1,'a',1), ('g.a','t',1,51999,1,'a',1), ('g.a','t',0,42999,1,'a',2)"
q $A2 "INSERT INTO default.ev SELECT number, 3, number, 'subcluster-b' FROM system.numbers LIMIT 1000"
sleep 1; q $B1 "SELECT count() FROM default.ev_all"
kill -9 $PID_ZKA $PID_A1 $PID_A2; echo "region a killed $(date -u +%T.%N|cut -c1-12)"
sleep 0.5
echo "-- b1 reads subcluster a's checkpoints (argMax)"; q $B1 "SELECT partition, argMax(last_offset, version), argMax(epoch, version) FROM default.ckpt WHERE consumer_group='g.a' GROUP BY partition ORDER BY partition FORMAT TSV"
echo "-- FINAL"; q $B1 "SELECT * FROM default.ckpt FINAL FORMAT TSV"
for s in "" "prefer_localhost_replica=0" "load_balancing=random" "load_balancing=random&prefer_localhost_replica=0" "skip_unavailable_shards=1"; do
  for n in B1 B2; do echo "-- ev_all from $n [$s]"; qs ${!n} "$s" "SELECT count() FROM default.ev_all"; done; done
sleep 5
echo "-- after 5 s: b1 replica state"; q $B1 "SELECT table, is_readonly, is_session_expired, active_replicas, total_replicas, absolute_delay FROM system.replicas FORMAT TSV"
echo "-- b2 replica state"; q $B2 "SELECT table, is_readonly, is_session_expired, active_replicas, total_replicas, absolute_delay FROM system.replicas FORMAT TSV"
echo "-- write subcluster a from b1 (its Keeper is gone)"; q $B1 "INSERT INTO default.ckpt VALUES ('g.b','t',0,1,2,'b',3)"
echo "-- write subcluster b from b2, quorum 0"; q $B2 "INSERT INTO default.ev VALUES (1,3,5000,'takeover')"
echo "-- write subcluster b from b2, quorum 2"; qs $B2 "insert_quorum=2" "INSERT INTO default.ev VALUES (1,3,5001,'takeover-q')"
echo "-- insert through the Distributed table from b2 (sync), sharding key _partition: 0 -> shard a? "; qs $B2 "insert_distributed_sync=1" "INSERT INTO default.ev_all VALUES (1,0,6000,'dist'), (1,1,6001,'dist')"
for s in "" "max_replica_delay_for_distributed_queries=1&fallback_to_stale_replicas_for_distributed_queries=0"; do echo "-- ev_all from b2 [$s]"; qs $B2 "$s" "SELECT count() FROM default.ev_all"; done
