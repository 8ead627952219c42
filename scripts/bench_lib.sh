# Shared by the scripts/bench-*.sh entry points (sourced, from the project root).

# bench_build TARGET...: build TARGETs in the release build dir $B
# (K3C_BENCH_DIR, default build-bench/), set up on first use; on failure the
# build log's tail and exit 1.
bench_build() {
  B=${K3C_BENCH_DIR:-build-bench}
  if [ ! -f "$B/build.ninja" ]; then
    meson setup "$B" --buildtype=release >/dev/null
  fi
  ninja -C "$B" -j2 "$@" >"$B/ninja.log" || { tail -n 30 "$B/ninja.log"; exit 1; }
}

# bench_machine: the line every benchmark prints first, as the figures
# depend on it.
bench_machine() {
  echo "machine: $(nproc) cores $(uname -m), $(. /etc/os-release && echo "$PRETTY_NAME"), load $(cut -d' ' -f1-3 /proc/loadavg)"
}
