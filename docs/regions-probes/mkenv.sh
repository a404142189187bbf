#!/bin/bash
# Writes env.sh from stack.log (the local stack's printed endpoints) and the stack's child processes.
cd "$(dirname "$0")"
D=$(sed -n 's/^logs and data under \(.*\); Ctrl-C.*/\1/p' stack.log)
url() { sed -n "s/^clickhouse $1 .* http=\([^ ]*\) .*/\1/p" stack.log; }
pid() { pgrep -f -- "$1" | head -1; }   # read-only lookup of the stack's children by their unique config path
cat > env.sh <<EOT
# endpoints of the running local stack (two-subcluster); sourced by probe scripts; written by mkenv.sh
D=$D
A1=$(url a1); B1=$(url b1); A2=$(url a2); B2=$(url b2)
PID_ZKA=$(pid "$D/zk-a/zoo.cfg"); PID_ZKB=$(pid "$D/zk-b/zoo.cfg"); PID_A1=$(pid "$D/a1/config.xml"); PID_B1=$(pid "$D/b1/config.xml"); PID_A2=$(pid "$D/a2/config.xml"); PID_B2=$(pid "$D/b2/config.xml")
# processes a probe restarted itself (pid files) replace the stack's
for f in zka zkb a1 b1 a2 b2; do [ -f "\$(dirname "\${BASH_SOURCE[0]}")/\$f.pid" ] && eval "PID_\${f^^}=\$(cat "\$(dirname "\${BASH_SOURCE[0]}")/\$f.pid")"; done
q() { local url=\$1; shift; curl -sS -m \${CURL_MAX:-120} -w ' [http=%{http_code} t=%{time_total}s]\n' "\$url" --data-binary "\$*"; }
qs() { local url=\$1 s=\$2; shift 2; curl -sS -m \${CURL_MAX:-120} -w ' [http=%{http_code} t=%{time_total}s]\n' "\$url?\$s" --data-binary "\$*"; }
EOT
