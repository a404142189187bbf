#!/bin/bash
# Probe f: the takeover/failback/reconcile protocol by hand (SQL only, no worker), partition 0 owned by region a.
# a writes 10 groups with quorum 2, its 11th group gets 319 (b1 frozen) and region a is killed; b claims epoch 1 from
# a's checkpoint as seen on b1, writes into subcluster b; region a returns, the 319'd block replicates -> duplicates;
# reconcile deletes them from subcluster a (ALTER DELETE); failback at a clean checkpoint (epoch 2). Needs a fresh stack.
. "$(dirname "$0")/env.sh"
ts() { date -u +%T.%N | cut -c1-12; }
V() { echo $(( ($1 << 52) + $(date +%s%6N) )); }     # version = epoch<<52 | µs
for u in $A1 $B1 $A2 $B2; do
  q $u "CREATE TABLE IF NOT EXISTS default.own (base_group String, topic String, partition UInt32, epoch UInt32, owner String, start_offset Int64, uncertain_first Int64, uncertain_last Int64, reason String, claimed_at DateTime) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/default.own', '{replica}') ORDER BY (base_group, topic, partition, epoch)" >/dev/null
  q $u "CREATE TABLE IF NOT EXISTS default.ck (consumer_group String, topic String, partition UInt32, first_offset Int64, last_offset Int64, state Enum8('pending'=1,'committed'=2), epoch UInt32, version UInt64) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/default.ck', '{replica}', version) ORDER BY (consumer_group, topic, partition)" >/dev/null
done
own() { for u in $1 $2; do curl -s -m 3 "$u" --data-binary "SELECT epoch, owner, start_offset, uncertain_first, uncertain_last FROM default.own WHERE base_group='g' AND partition=0 FORMAT TSV"; done | sort -n | tail -1; }
data() { curl -sS -m 30 -o /tmp/t-regions/f.body -w '%{http_code} %{time_total}' "$1?$2" --data-binary "INSERT INTO default.ev SELECT 0, 0, $3 + number, 'x' FROM system.numbers LIMIT $(( $4 - $3 + 1 ))"; echo " $(head -c 100 /tmp/t-regions/f.body)"; }
Q2="insert_quorum=2&insert_quorum_timeout=2000"
echo "$(ts) epoch 0: partition 0 owned by a"; q $A1 "INSERT INTO default.own VALUES ('g','t',0,0,'a',-1,-1,-1,'initial',now())"
for g in $(seq 0 9); do f=$((g*100)); l=$((f+99))
  qs $A1 "$Q2" "INSERT INTO default.ck VALUES ('g.a','t',0,$f,$l,'pending',0,$(V 0))" >/dev/null
  data $A1 "$Q2" $f $l >/dev/null
  qs $A1 "$Q2" "INSERT INTO default.ck VALUES ('g.a','t',0,$f,$l,'committed',0,$(V 0))" >/dev/null; done
echo "$(ts) a wrote 0..999 (quorum 2); group 1000..1099: pending row, then b1 frozen, data INSERT:"
qs $A1 "$Q2" "INSERT INTO default.ck VALUES ('g.a','t',0,1000,1099,'pending',0,$(V 0))"
kill -STOP $PID_B1; data $A1 "$Q2" 1000 1099
for p in $PID_ZKA $PID_A1 $PID_A2; do tr '\0' ' ' < /proc/$p/cmdline; echo; readlink /proc/$p/cwd; done > regionA.cmdlines
kill -9 $PID_ZKA $PID_A1 $PID_A2; kill -CONT $PID_B1; echo "$(ts) region a killed, b1 thawed"; sleep 1
echo "-- takeover by b. ownership (union of b1 and b2): $(own $B1 $B2)"
ck=$(curl -s $B1 --data-binary "SELECT argMax(first_offset,version), argMax(last_offset,version), argMax(state,version) FROM default.ck WHERE consumer_group='g.a' AND partition=0 FORMAT TSV"); echo "a's checkpoint on b1: $ck"
read f l st <<< "$ck"
if [ "$st" = pending ]; then n=$(curl -s $B1 --data-binary "SELECT count() FROM default.ev WHERE _partition=0 AND _offset BETWEEN $f AND $l"); echo "pending group rows on b1: $n"
  if [ "$n" -gt 0 ]; then start=$((l+1)); uf=-1; ul=-1; else start=$f; uf=$f; ul=$l; fi; else start=$((l+1)); uf=-1; ul=-1; fi
echo "claim: epoch 1 owner b start $start uncertain $uf..$ul"
q $B2 "INSERT INTO default.own VALUES ('g','t',0,1,'b',$start,$uf,$ul,'takeover',now())"
echo -n "copy into subcluster a (b1): "; q $B1 "INSERT INTO default.own VALUES ('g','t',0,1,'b',$start,$uf,$ul,'takeover',now())"
echo "ownership now: $(own $B1 $B2)"
echo -n "b writes $start..1499 into subcluster b, quorum 2: "; data $B2 "$Q2" $start 1499
echo -n "degraded, quorum 0: "; data $B2 "insert_quorum=0" $start 1499
q $B2 "INSERT INTO default.ck VALUES ('g.b','t',0,$start,1499,'committed',1,$(V 1))" >/dev/null
echo "ev_all from b2 (count, distinct offsets, max): $(curl -s $B2 --data-binary "SELECT count(), uniqExact(_offset), max(_offset) FROM default.ev_all WHERE _partition=0 FORMAT TSV")"
timeout 60 "$(dirname "$0")/f2_return_reconcile_failback.sh" $start
