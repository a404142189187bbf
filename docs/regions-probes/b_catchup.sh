#!/bin/bash
# Probe b: insert_quorum=0 into subcluster a (a1) while b1 is down (killed by a_quorum.sh killed), then start b1
# again (this script starts it; its pid goes to b1.pid: kill it at the end) and time its catch-up.
. "$(dirname "$0")/env.sh"
for i in $(seq 1 20); do
  qs $A1 "insert_quorum=0" "INSERT INTO default.ev SELECT number, 1, $((i*100000))+number, 'downtime-$i' FROM system.numbers LIMIT 10000" >/dev/null
done
q $A1 "SELECT count() FROM default.ev"
t0=$(date +%s.%N)
nohup /usr/sbin/clickhouse-server --config-file=$D/b1/config.xml > /dev/null 2>&1 & echo $! > b1.pid
echo "b1 restarted pid $(cat b1.pid)"
until curl -sf -m 1 ${B1}ping >/dev/null; do sleep 0.05; done; t1=$(date +%s.%N); echo "b1 /ping after $(echo "$t1-$t0"|bc) s"
want=$(curl -s "$A1" --data-binary "SELECT count() FROM default.ev")
until [ "$(curl -s -m 2 "$B1" --data-binary "SELECT count() FROM default.ev" 2>/dev/null)" = "$want" ]; do sleep 0.1; done
t2=$(date +%s.%N); echo "b1 caught up ($want rows) after $(echo "$t2-$t0"|bc) s from start"
q $B1 "SELECT replica_name, is_readonly, is_session_expired, queue_size, absolute_delay, active_replicas FROM system.replicas WHERE table='ev' FORMAT TSV"
