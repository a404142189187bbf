#!/bin/bash
# Probe c: freeze ZooKeeper a (subcluster a's Keeper) for FREEZE seconds (default 30) while inserting every 0.5 s
# into subcluster a (via a1 and b1) and subcluster b (via a2); one line per INSERT: time node code seconds.
. "$(dirname "$0")/env.sh"
F=${FREEZE:-30}
loop() { local name=$1 url=$2 i=0; while [ ! -f /tmp/t-regions/c.stop ]; do i=$((i+1));
  r=$(curl -sS -m 40 -o /tmp/t-regions/c.$name.body -w '%{http_code} %{time_total}' "$url?insert_quorum=0" --data-binary "INSERT INTO default.ev VALUES ($i, 2, $((RANDOM*100000+i)), 'zkfreeze-$name')" 2>&1)
  code=$(grep -o 'Code: [0-9]*' /tmp/t-regions/c.$name.body | head -1)
  echo "$(date -u +%T.%N|cut -c1-12) $name $r ${code:-ok} $(head -c 110 /tmp/t-regions/c.$name.body | tr '\n' ' ' | sed 's/e.displayText() = DB::Exception: //')"; sleep 0.5; done; }
rm -f /tmp/t-regions/c.stop
loop a1 $A1 > c.a1.log & p1=$!; loop b1 $B1 > c.b1.log & p2=$!; loop a2 $A2 > c.a2.log & p3=$!
sleep 3; echo "freeze zk-a $(date -u +%T.%N|cut -c1-12)"; kill -STOP $PID_ZKA
sleep $F; echo "thaw zk-a $(date -u +%T.%N|cut -c1-12)"; kill -CONT $PID_ZKA
sleep 20; touch /tmp/t-regions/c.stop; wait $p1 $p2 $p3
for n in a1 b1 a2; do echo "== $n"; cat c.$n.log | awk '{k=$2" "$3" "$5" "$6" "$7" "$8" "$9" "$10" "$11" "$12" "$13" "$14; if (k!=prev) {print; prev=k; c=0} else c++}'; done
