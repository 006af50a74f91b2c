#!/bin/bash
# Benchmarks (run only by Benchmarks/run): hooks on vlan-aware and classic paths, trunk 2-4094, 500 access bridges.
# lab-timeout: 4800
#
# Benchmarks/run writes .build-bench/lab-params (the vlanwire binary, iterations, the pyroute2
# virtualenv) before it starts the lab and removes it afterwards; without it this scenario is
# pending, so `scripts/lab` and CI never spend the minutes it takes. Every measurement runs in a
# throwaway namespace inside the VM, through Benchmarks/harness.py (see BENCHMARKS.md).
. "$LAB_LIB"

params=$REPO/.build-bench/lab-params
# A params file left by a killed run (older than 4 hours) does not count.
[[ -n $(find "$params" -mmin -240 2>/dev/null) ]] || pending "only Benchmarks/run runs the benchmarks"
# shellcheck source=/dev/null
. "$params"
[[ -x $BENCH_BINARY ]] || die "no vlanwire binary at $BENCH_BINARY"

results=$LAB_DIR/results.jsonl
: >"$results"
NS=vwbench
contenders=(
    --contender "vlanwire=$BENCH_BINARY hook qemu {guest} {op} begin -"
    --contender "shell=$REPO/Benchmarks/contenders/shell-hook {guest} {op} begin -"
    --contender "shell-percmd=$REPO/Benchmarks/contenders/shell-hook-percmd {guest} {op} begin -"
    --contender "pyroute2=$BENCH_VENV/bin/python $REPO/Benchmarks/contenders/pyroute2-hook.py {guest} {op} begin -"
)
harness() {
    ip netns add "$NS"
    defer "ip netns delete $NS 2>/dev/null || true"
    ip netns exec "$NS" /usr/bin/python3 "$REPO/Benchmarks/harness.py" "$@" --netns "$NS" --where lab --json "$results"
    ip netns delete "$NS"
}

for scene in ${BENCH_LAB_SCENES-aware-access aware-trunk classic-access classic-trunk}; do
    for nics in 1 4; do
        lab_log "hooks: $scene, $nics NIC(s), $BENCH_ITERATIONS iterations"
        harness hooks --scene "$scene" --nics "$nics" --iterations "$BENCH_ITERATIONS" "${contenders[@]}"
    done
done
lab_log "trunk 2-4094"
[[ ${BENCH_LAB_TRUNK:-1} == 0 ]] || harness trunk --iterations "$BENCH_ITERATIONS" --vlanwire "$BENCH_BINARY" "${contenders[@]}"
lab_log "classic bulk: ${BENCH_BULK_COUNT:-500} access bridges"
compare=()
for c in ${BENCH_COMPARE:-}; do compare+=(--compare "$c"); done
harness bulk --count "${BENCH_BULK_COUNT:-500}" --iterations "${BENCH_BULK_ITERATIONS:-5}" \
    --vlanwire "$BENCH_BINARY" "${compare[@]}"
pass_note "$(wc -l <"$results") benchmark results"
