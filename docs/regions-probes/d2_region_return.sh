#!/bin/bash
ruok() { exec 3<>/dev/tcp/127.0.0.1/$(sed -n "s/^clientPort=//p" $D/zk-a/zoo.cfg) && echo ruok >&3 && cat <&3; exec 3<&-; } 2>/dev/null
# Region a returns: start zk-a first (pitfall: ClickHouse started without its Keeper may exit or miss tables),
# then a1 and a2. Pids go to zka.pid a1.pid a2.pid (kill them at the end). Times until writable / caught up.
. "$(dirname "$0")/env.sh"
zkcmd=$(sed -n 1p regionA.cmdlines); zkdir=$(sed -n 2p regionA.cmdlines)
t0=$(date +%s.%N)
[ "$(ruok)" = imok ] || { here=$PWD; cd $zkdir; setsid nohup $zkcmd > /dev/null 2>&1 & echo $! > $here/zka.pid; cd $here; }
until [ "$(ruok)" = imok ]; do sleep 0.05; done; echo "zk-a ruok after $(echo "$(date +%s.%N)-$t0"|bc)"
setsid nohup /usr/sbin/clickhouse-server --config-file=$D/a1/config.xml > /dev/null 2>&1 & echo $! > a1.pid
setsid nohup /usr/sbin/clickhouse-server --config-file=$D/a2/config.xml > /dev/null 2>&1 & echo $! > a2.pid
until curl -sf -m1 ${A1}ping >/dev/null && curl -sf -m1 ${A2}ping > /dev/null; do sleep 0.05; done; echo "a1,a2 ping after $(echo "$(date +%s.%N)-$t0"|bc)"
i=0; until [ "$(curl -s -m2 -o /dev/null -w '%{http_code}' $B1 --data-binary "INSERT INTO default.ckpt VALUES ('probe','t',9,0,0,'probe',$i)")" = 200 ]; do i=$((i+1)); sleep 0.1; done
echo "b1 (subcluster a) writable after $(echo "$(date +%s.%N)-$t0"|bc) s, $i refusals"
i=0; until [ "$(curl -s -m2 -o /dev/null -w '%{http_code}' $A1 --data-binary "INSERT INTO default.ckpt VALUES ('probe','t',9,0,0,'probe',$i)")" = 200 ]; do i=$((i+1)); sleep 0.1; done
echo "a1 writable after $(echo "$(date +%s.%N)-$t0"|bc) s"
want=$(curl -s $B2 --data-binary "SELECT count() FROM default.ev")
until [ "$(curl -s -m2 $A2 --data-binary "SELECT count() FROM default.ev")" = "$want" ]; do sleep 0.1; done; echo "a2 caught up with b2 ($want) after $(echo "$(date +%s.%N)-$t0"|bc) s"
for u in $A1 $B1 $A2 $B2; do q $u "SELECT table, is_readonly, active_replicas, queue_size FROM system.replicas FORMAT TSV" ; done
