#!/usr/bin/env bash
# Side by side in one run (issue 12's method): the load bench binary serves a bare axum
# route and erp-server, each on core 0 with one worker thread; wrk on core 1, 32
# connections, ROUNDS rounds (default 3) of SECS seconds (default 10), each round running
# bare, /auth/config and /auth/me in turn; prints each round's ratios, then the medians.
#
#   cargo bench -p erp-server --bench load --no-run   # prints target/release/deps/load-<hash>
#   examples/server/benches/wrk-side-by-side.sh target/release/deps/load-<hash>
#   ROUNDS=7 SECS=5 examples/server/benches/wrk-side-by-side.sh ...   # steadier medians
set -u
B=$1
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
T=${TMPDIR:-/tmp}
start() { ERP_BENCH_SERVE=$1 taskset -c 0 $B > $T/erp-serve-$1.log 2>&1 & echo $! > $T/erp-serve-$1.pid;
  for i in $(seq 1 100); do grep -q "^listening" $T/erp-serve-$1.log && break; sleep 0.2; done; }
start bare; start server
BARE=$(grep -o 'http://[^ ]*' $T/erp-serve-bare.log | head -1)
SRV=$(grep -o 'http://[^ ]*' $T/erp-serve-server.log | head -1)
TOKEN=$(awk '/^token/{print $2}' $T/erp-serve-server.log)
rps() { taskset -c 1 wrk -t1 -c32 -d${SECS}s "$@" | awk '/Requests\/sec/{print $2}'; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
uptime
cfg_ratios=""; me_ratios=""
for round in $(seq 1 $ROUNDS); do
  b=$(rps $BARE/bare)
  c=$(rps $SRV/auth/config)
  m=$(rps -H "Authorization: Bearer $TOKEN" $SRV/auth/me)
  cr=$(echo "scale=3; $c/$b" | bc); mr=$(echo "scale=3; $m/$b" | bc)
  cfg_ratios="$cfg_ratios $cr"; me_ratios="$me_ratios $mr"
  echo "round $round bare $b config $c me $m config/bare $cr me/bare $mr"
done
echo "median config/bare $(echo $cfg_ratios | median) me/bare $(echo $me_ratios | median)"
uptime
kill $(cat $T/erp-serve-bare.pid) $(cat $T/erp-serve-server.pid)
