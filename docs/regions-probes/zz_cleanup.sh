#!/bin/bash
# Stops what the probes started: the processes restarted by the probes (pid files) and the local stack (stack.pid).
cd "$(dirname "$0")"
for f in zka a1 a2 b1; do [ -f $f.pid ] && kill -9 $(cat $f.pid) 2>/dev/null && echo "killed $f $(cat $f.pid)"; done
[ -f stack.pid ] && kill -TERM $(cat stack.pid) 2>/dev/null && echo "stopping stack $(cat stack.pid)"
for i in $(seq 1 30); do kill -0 $(cat stack.pid) 2>/dev/null || break; sleep 1; done
kill -0 $(cat stack.pid) 2>/dev/null && kill -9 $(cat stack.pid)
ps -ef | grep -E "clickhouse-server|QuorumPeerMain|Ingest.LocalStack" | grep t-regions | grep -v grep || echo "nothing of ours left"
