#!/usr/bin/env bash
# Side by side in one run (issue 12's method): the load bench binary serves a bare axum
# route and erp-server, each on core 0 with one worker thread; wrk on core 1, 32
# connections, 3 rounds of 10 s per route, each round's ratios printed.
#
#   cargo bench -p erp-server --bench load --no-run   # prints target/release/deps/load-<hash>
#   examples/server/benches/wrk-side-by-side.sh target/release/deps/load-<hash>
set -u
B=$1
start() { ERP_BENCH_SERVE=$1 taskset -c 0 $B > ${TMPDIR:-/tmp}/erp-serve-$1.log 2>&1 & echo $! > ${TMPDIR:-/tmp}/erp-serve-$1.pid;
  for i in $(seq 1 100); do grep -q "^listening" ${TMPDIR:-/tmp}/erp-serve-$1.log && break; sleep 0.2; done; }
start bare; start server
BARE=$(grep -o 'http://[^ ]*' ${TMPDIR:-/tmp}/erp-serve-bare.log | head -1)
SRV=$(grep -o 'http://[^ ]*' ${TMPDIR:-/tmp}/erp-serve-server.log | head -1)
TOKEN=$(awk '/^token/{print $2}' ${TMPDIR:-/tmp}/erp-serve-server.log)
uptime
for round in 1 2 3; do
  b=$(taskset -c 1 wrk -t1 -c32 -d10s $BARE/bare | awk '/Requests\/sec/{print $2}')
  c=$(taskset -c 1 wrk -t1 -c32 -d10s $SRV/auth/config | awk '/Requests\/sec/{print $2}')
  m=$(taskset -c 1 wrk -t1 -c32 -d10s -H "Authorization: Bearer $TOKEN" $SRV/auth/me | awk '/Requests\/sec/{print $2}')
  echo "round $round bare $b config $c me $m config/bare $(echo "scale=3; $c/$b" | bc) me/bare $(echo "scale=3; $m/$b" | bc)"
done
uptime
kill $(cat ${TMPDIR:-/tmp}/erp-serve-bare.pid) $(cat ${TMPDIR:-/tmp}/erp-serve-server.pid)
