#!/usr/bin/env bash
# The SD-card benchmark of issue #18: pkg/store (bench/sdcard.c) next to
# etcd 3.4 (Debian's etcd-server, on loopback, data dir in a temp dir,
# driven through its v3 HTTP/JSON gateway by scripts/bench-etcd.py) in the
# same run, same workload: 1,000 creates + UPDATES updates of 1,000 keys
# (1 KiB values, 8 writes in flight), then compaction (and defrag for etcd).
#
#   bash scripts/bench-store.sh [UPDATES]    (default 100000)
#
# If a calibration run says the full run would take longer than ~5 minutes
# here, UPDATES is divided by a factor, printed as "scale" (K3C_BENCH_FULL=1
# runs the full workload however long it takes). Figures are
# recorded in docs/PERFORMANCE.md.
set -eu
cd "$(dirname "$0")/.."
B=${K3C_BENCH_DIR:-build-bench}
PY=/usr/bin/python3
updates=${1:-100000}
inflight=8
command -v etcd >/dev/null || { echo "etcd missing: apt-get install etcd-server"; exit 1; }
if [ ! -f "$B/build.ninja" ]; then meson setup "$B" --buildtype=release >/dev/null; fi
ninja -C "$B" -j2 bench/bench_sdcard >"$B/ninja.log" || { tail -n 30 "$B/ninja.log"; exit 1; }

tmp=$(mktemp -d /var/tmp/k3c-bench-store-XXXXXX 2>/dev/null || mktemp -d)
etcd_pid=
cleanup() { [ -n "$etcd_pid" ] && kill "$etcd_pid" 2>/dev/null && wait "$etcd_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_etcd() {
  rm -rf "$tmp/etcd"
  cp=$(port); pp=$(port)
  etcd --name bench --data-dir "$tmp/etcd" --listen-client-urls "http://127.0.0.1:$cp" \
    --advertise-client-urls "http://127.0.0.1:$cp" --listen-peer-urls "http://127.0.0.1:$pp" \
    --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
    --initial-cluster "bench=http://127.0.0.1:$pp" >"$tmp/etcd.log" 2>&1 &
  etcd_pid=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$cp/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "etcd did not start:"; tail -20 "$tmp/etcd.log"; exit 1
}
stop_etcd() { kill "$etcd_pid"; wait "$etcd_pid" 2>/dev/null || true; etcd_pid=; }

# Calibration: 3,000 updates on each; the full run should take <= ~300 s.
start_etcd
e=$( { /usr/bin/time -f %e $PY scripts/bench-etcd.py "http://127.0.0.1:$cp" "$tmp/etcd" "$etcd_pid" 3000 $inflight >/dev/null; } 2>&1 | tail -1)
stop_etcd
mkdir -p "$tmp/cal"
k=$( { /usr/bin/time -f %e "$B/bench/bench_sdcard" "$tmp/cal" 3000 $inflight >/dev/null; } 2>&1 | tail -1)
rm -rf "$tmp/cal"
scale=$($PY -c "import math; t=($e+$k)*$updates/3000*1.3; print(max(1, math.ceil(t/300)))")
[ "${K3C_BENCH_FULL:-0}" = 1 ] && scale=1   # the full workload however long it takes
if [ "$scale" -gt 1 ]; then
  echo "scale 1/$scale: calibration says $updates updates would take too long here (etcd ${e}s, k3c ${k}s per 3000)"
  updates=$((updates / scale))
fi
echo "workload: 1000 creates + $updates updates of 1000 keys, 1 KiB values, $inflight in flight"

start_etcd
$PY scripts/bench-etcd.py "http://127.0.0.1:$cp" "$tmp/etcd" "$etcd_pid" "$updates" $inflight >"$tmp/etcd.out"
stop_etcd
mkdir -p "$tmp/k3c"
"$B/bench/bench_sdcard" "$tmp/k3c" "$updates" $inflight >"$tmp/k3c.out"

$PY - "$tmp/etcd.out" "$tmp/k3c.out" <<'PYEOF'
import sys
v = {}
for f in sys.argv[1:]:
    for line in open(f):
        who, name, val = line.split()
        v[(who, name)] = float(val)
e = lambda n: v.get(("etcd", n))
k = lambda n: v.get(("k3c", n))
mib = lambda x: "-" if x is None else "%.1f MiB" % (x / 1048576)
num = lambda x: "-" if x is None else "%.0f" % x
rows = [
    ("updates/s", num(e("updates_per_s")), num(k("updates_per_s"))),
    ("file before compaction", mib(e("file_before")), mib(k("file_before"))),
    ("WAL before compaction", mib(e("wal_before")), mib(k("wal_before"))),
    ("file after compaction", mib(e("file_after")), mib(k("file_after"))),
    ("WAL after compaction", mib(e("wal_after")), mib(k("wal_after"))),
    ("file after defrag", mib(e("file_defrag")), "(not needed)"),
    ("live bytes", mib(e("live_bytes")), mib(k("live_bytes"))),
    ("bytes written per 1 KiB update", num(e("write_bytes_per_update")), num(k("write_bytes_per_update"))),
    ("RSS (peak)", "%s (%s)" % (mib(e("rss_kib") * 1024), mib(e("rss_peak_kib") * 1024)),
     "%s (%s)" % (mib(k("rss_kib") * 1024), mib(k("rss_peak_kib") * 1024))),
    ("compaction time", "%.2f s" % e("compact_s"), "%.2f s" % k("compact_s")),
]
print("%-32s %-22s %-22s" % ("", "etcd 3.4", "k3c store"))
for r in rows:
    print("%-32s %-22s %-22s" % r)
live = k("live_bytes")
bound = 2 * live + 8 * 1048576
print("k3c WAL max during updates: %s; during steady state: %s (target <= 64 MiB)" %
      (mib(k("wal_max_updates")), mib(k("steady_wal_max"))))
print("k3c steady state (%d updates, compaction every quarter): file+WAL max %s, right after each compaction max %s;"
      " bound 2 x live + 8 MiB = %s" % (k("steady_updates"), mib(k("steady_total_max")),
                                        mib(k("steady_total_after_compact_max")), mib(bound)))
ok_size = k("file_after") + k("wal_after") <= bound and k("steady_total_after_compact_max") <= bound
ok_wal = max(k("wal_max_updates"), k("steady_wal_max")) <= 64 * 1048576
ok_wb = k("write_bytes_per_update") <= 2 * e("write_bytes_per_update")
print("targets: size after compaction %s, WAL <= 64 MiB %s, write bytes <= 2x etcd %s (%.2fx)" %
      ("met" if ok_size else "MISSED", "met" if ok_wal else "MISSED", "met" if ok_wb else "MISSED",
       k("write_bytes_per_update") / e("write_bytes_per_update")))
PYEOF
