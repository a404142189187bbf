#!/bin/bash
# Creates probe tables on every node of the two-subcluster stack (no ON CLUSTER: it cannot span two ZooKeepers).
. "$(dirname "$0")/env.sh"
for u in $A1 $B1 $A2 $B2; do
  q $u "CREATE TABLE IF NOT EXISTS default.ev (k UInt64, _partition UInt32, _offset Int64, v String) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/default.ev', '{replica}') ORDER BY (_partition, _offset)"
  q $u "CREATE TABLE IF NOT EXISTS default.ckpt (consumer_group String, topic String, partition UInt32, last_offset Int64, epoch UInt64, owner String, version UInt64) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/default.ckpt', '{replica}', version) ORDER BY (consumer_group, topic, partition)"
  q $u "CREATE TABLE IF NOT EXISTS default.ev_all AS default.ev ENGINE = Distributed(ingest, default, ev, _partition)"
done
