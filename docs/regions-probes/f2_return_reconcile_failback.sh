#!/bin/bash
# Probe f, part 2 (run by f_takeover_sim.sh; arg: epoch 1's start offset). Probe f: the takeover/failback/reconcile protocol by hand (SQL only, no worker), partition 0 owned by region a.
# a writes 10 groups with quorum 2, its 11th group gets 319 (b1 frozen) and region a is killed; b claims epoch 1 from
# a's checkpoint as seen on b1, writes into subcluster b; region a returns, the 319'd block replicates -> duplicates;
# reconcile deletes them from subcluster a (ALTER DELETE); failback at a clean checkpoint (epoch 2). Needs a fresh stack.
. "$(dirname "$0")/env.sh"
ts() { date -u +%T.%N | cut -c1-12; }
V() { echo $(( ($1 << 52) + $(date +%s%6N) )); }     # version = epoch<<52 | µs
own() { for u in $1 $2; do curl -s -m 3 "$u" --data-binary "SELECT epoch, owner, start_offset, uncertain_first, uncertain_last FROM default.own WHERE base_group='g' AND partition=0 FORMAT TSV"; done | sort -n | tail -1; }
data() { curl -sS -m 30 -o /tmp/t-regions/f.body -w '%{http_code} %{time_total}' "$1?$2" --data-binary "INSERT INTO default.ev SELECT 0, 0, $3 + number, 'x' FROM system.numbers LIMIT $(( $4 - $3 + 1 ))"; echo " $(head -c 100 /tmp/t-regions/f.body)"; }

start=${1:-1000}; Q2="insert_quorum=2&insert_quorum_timeout=2000"
echo "$(ts) -- region a returns"; ./d2_region_return.sh | head -4
sleep 2; echo "ev_all from b2 (count, distinct, max): $(curl -s $B2 --data-binary "SELECT count(), uniqExact(_offset), max(_offset) FROM default.ev_all WHERE _partition=0 FORMAT TSV")"
echo "-- reconcile: offsets of epoch 1's range (>= $start) present in subcluster a AND in subcluster b"
dups=$(curl -s $A1 --data-binary "SELECT count(), min(_offset), max(_offset) FROM default.ev WHERE _partition=0 AND _offset >= $start AND _offset IN (SELECT _offset FROM remote('$(echo $B2 | sed 's#http://##; s#:.*##'):$(grep -o '<tcp_port>[0-9]*' $D/b2/config.xml | cut -d'>' -f2)', default.ev) WHERE _partition=0) FORMAT TSV"); echo "duplicates in subcluster a: $dups"
read dn dmin dmax <<< "$dups"; t0=$(date +%s.%N); [ "${dn:-0}" -gt 0 ] || { echo "no duplicates: nothing to delete"; dmin=1; dmax=0; }
q $A1 "ALTER TABLE default.ev DELETE WHERE _partition = 0 AND _offset BETWEEN $dmin AND $dmax"
for i in $(seq 1 300); do [ "$(curl -s $A1 --data-binary "SELECT count() FROM system.mutations WHERE table='ev' AND is_done=0")" = 0 ] && break; sleep 0.2; done
echo "mutation: $(curl -s $A1 --data-binary "SELECT parts_to_do, is_done FROM system.mutations WHERE table='ev' FORMAT TSV") after $(echo "$(date +%s.%N)-$t0"|bc) s"
sleep 1; echo "ev_all from b2 after reconcile (count, distinct, max): $(curl -s $B2 --data-binary "SELECT count(), uniqExact(_offset), max(_offset) FROM default.ev_all WHERE _partition=0 FORMAT TSV")"
echo "-- failback: b's checkpoint is committed ..1499 (clean); claim epoch 2 owner a start 1500 into both subclusters"
q $B2 "INSERT INTO default.own VALUES ('g','t',0,2,'a',1500,-1,-1,'failback',now())"; q $A1 "INSERT INTO default.own VALUES ('g','t',0,2,'a',1500,-1,-1,'failback',now())"
echo "ownership seen from region a (a1 + a2): $(own $A1 $A2)"
echo -n "a writes 1500..1599 quorum 2: "; data $A1 "$Q2" 1500 1599
sleep 1; echo "final ev_all (count, distinct, max): $(curl -s $A2 --data-binary "SELECT count(), uniqExact(_offset), max(_offset) FROM default.ev_all WHERE _partition=0 FORMAT TSV")"
echo "range map: $(curl -s $A2 --data-binary "SELECT groupArray((epoch, owner, start_offset)) FROM (SELECT DISTINCT epoch, owner, start_offset FROM merge(default, '^own\$') WHERE partition=0 ORDER BY epoch) FORMAT TSV")"
