#!/bin/bash
# Probe a: insert_quorum=2 into subcluster a (via a1, region a) while its region-b replica b1 is frozen (SIGSTOP)
# then killed (SIGKILL). Usage: ./a_quorum.sh baseline|frozen|frozen-default|killed (killed needs b_catchup.sh after)
. "$(dirname "$0")/env.sh"
n=$RANDOM
ins() { echo "$(date -u +%T.%N | cut -c1-12) $1"; qs $A1 "insert_quorum=2&$2" "INSERT INTO default.ev VALUES ($n, 0, $((n*10+$3)), '$1')"; }
case $1 in
 baseline) ins baseline "" 1 ;;
 frozen)
  kill -STOP $PID_B1; echo "b1 STOPPED at $(date -u +%T.%N|cut -c1-12)"
  ins frozen-short "insert_quorum_timeout=5000" 2
  sleep 1; ins frozen-default-capped60s "" 3
  ins frozen-after-session-expiry "insert_quorum_timeout=5000" 4
  q $A1 "SELECT replica_name, is_session_expired, active_replicas, total_replicas, is_readonly FROM system.replicas WHERE table='ev' FORMAT TSV"
  kill -CONT $PID_B1; echo "b1 CONT at $(date -u +%T.%N|cut -c1-12)"
  sleep 3; ins after-thaw "insert_quorum_timeout=5000" 5 ;;
 frozen-default)
  # default insert_quorum_timeout (600 s): the client gives up at CURL_MAX (25 s in the recorded run)
  kill -STOP $PID_B1; CURL_MAX=${CURL_MAX:-25} ins frozen-default "" 9; ins frozen-next "" 10; kill -CONT $PID_B1 ;;
 killed)
  kill -9 $PID_B1; echo "b1 KILLED at $(date -u +%T.%N|cut -c1-12)"
  ins killed-immediately "insert_quorum_timeout=5000" 6
  sleep 6; ins killed-after-6s "insert_quorum_timeout=5000" 7
  ins killed-after-6s-default "" 8 ;;
esac
