#!/bin/bash
# Tests/Lab/vm-run.sh — PID 1 inside the lab VM, after the initramfs switch_root'ed into the
# overlay (host root read-only underneath, tmpfs on top). scripts/lab starts it; do not run
# it on a host. It sets the VM up, runs each selected scenario under `timeout`, writes the
# results to the output share (/lab-out, the host's lab-out/<timestamp>/), and powers off.
#
# Per scenario, in /lab-out/<name>/: log (stdout+stderr), status (pass|fail|pending),
# reason, duration (seconds), started; plus whatever the scenario leaves in $LAB_DIR.
# Scenario exit code: 0 pass, 3 pending (reason in $LAB_REASON), 124 timed out, other fail.
# Each scenario runs under `timeout` (LAB_SCENARIO_TIMEOUT, or its "# lab-timeout: N" header).

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb
OUT=/lab-out

say() { echo "lab-vm: $*"; echo "$(date +%T) $*" >>"$OUT/vm.log"; }
poweroff_now() {
    sync
    umount "$OUT" 2>/dev/null
    busybox poweroff -f 2>/dev/null
    echo o >/proc/sysrq-trigger
    sleep 30
}
# PID 1 must never exit: that would panic the kernel. Power off instead.
trap 'say "vm-run: unexpected exit"; poweroff_now' EXIT

mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm

# shellcheck source=/dev/null
. "$OUT/run.env" || { echo "lab-vm: cannot read $OUT/run.env"; poweroff_now; }

# Fresh /run and /tmp, as on a booted host. A checkout under either (a CI clone in /tmp) would
# vanish beneath the tmpfs, so it is bound back at the same path: build products keep their paths.
# (--rbind: under a lab root other than the host's, the checkout is itself a bind mount.)
fresh_tmpfs() {
    local dir=$1 mode=$2 keep=$LAB_REPO
    if [[ $keep == "$dir"/* ]]; then
        mkdir -p /var/lib/lab-lower && mount --rbind "$dir" /var/lib/lab-lower
        mount -t tmpfs -o "mode=$mode" tmpfs "$dir"
        mkdir -p "$keep" && mount --bind "/var/lib/lab-lower${keep#"$dir"}" "$keep"
        umount -l /var/lib/lab-lower
    else
        mount -t tmpfs -o "mode=$mode" tmpfs "$dir"
    fi
}
fresh_tmpfs /run 755
fresh_tmpfs /tmp 1777
mkdir -p /run/lock /var/tmp/lab
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null
hostname vlanwire-lab
ip link set lo up

read -r _up _ </proc/uptime
say "up (root ${LAB_ROOT:-host}: $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r), uptime ${_up} s)"
echo "uptime_at_init $_up" >"$OUT/vm-timing"

for m in 8021q bridge tun veth; do
    modprobe "$m" || say "modprobe $m failed"
done

# What scenarios get.
export REPO=$LAB_REPO
export LAB_LIB=$REPO/Tests/Lab/lib.sh
export LAB_ROOT=${LAB_ROOT:-host} LAB_KVER LAB_KERNEL LAB_BUILD_DIR LAB_VERBOSE
export LAB_SWIFT_TEST_FILTER LAB_SWIFT_TEST_SKIP LAB_SWIFT_TEST_BINARY
export LAB_SWIFT_LIB LAB_SWIFT_BIN LAB_LANES LAB_LIBVIRT_SHARED LAB_GUESTS LAB_DEB
[[ -n ${LAB_WATCH_ATTACHES:-} ]] && export LAB_WATCH_ATTACHES
[[ -n ${LAB_WATCH_GUESTS:-} ]] && export LAB_WATCH_GUESTS
export VLANWIRE_LAB=1
if [[ -x $LAB_VLANWIRE ]]; then export VLANWIRE=$LAB_VLANWIRE; else unset VLANWIRE; fi
[[ -n $LAB_SWIFT_BIN ]] && PATH=$PATH:$LAB_SWIFT_BIN
[[ -n $LAB_SWIFT_LIB ]] && export LD_LIBRARY_PATH=$LAB_SWIFT_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

ms() { local s n; IFS=. read -r s n <<<"$EPOCHREALTIME"; echo $((s * 1000 + 10#${n:0:3})); }

# Everything a scenario may leave behind in the VM's root netns, removed between scenarios
# so the next one starts clean. Anything found is logged: a scenario should clean up itself.
sweep() {
    local name=$1 left=() ns l
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        left+=("netns:$ns"); ip netns delete "$ns"
    done
    for l in $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//'); do
        [[ $l == lo ]] && continue
        left+=("link:$l"); ip link delete "$l" 2>/dev/null
    done
    if ((${#left[@]})); then
        echo "lab: after $name the runner removed: ${left[*]}" >>"$OUT/$name/log"
    fi
}

# timeout_of NAME: the scenario's "# lab-timeout: SECONDS" header, else LAB_SCENARIO_TIMEOUT.
timeout_of() { local t; t=$(sed -n '1,30{s/^# lab-timeout: *\([0-9][0-9]*\) *$/\1/p}' "$REPO/Tests/Lab/scenarios/$1.sh" | head -n1); echo "${t:-$LAB_SCENARIO_TIMEOUT}"; }

# run_one NAME LANE: one scenario under timeout. LANE "root" runs it in the VM's root network
# namespace (libvirt scenarios: libvirtd and its taps live there); LANE "netns" runs it in a network
# namespace and mount namespace of its own, with private /run/netns and /run/vlanwire, so it cannot
# see or disturb the root lane — the two lanes run at the same time (LAB_LANES=1: one after another,
# all in the root namespace).
run_one() {
    local name=$1 lane=$2 d=$OUT/$1 script=$REPO/Tests/Lab/scenarios/$1.sh tmo t0 t1 rc status dur
    local wrap=()
    mkdir -p "$d" "/var/tmp/lab/$name"
    # A scenario may ask for more (or less) time with a header line "# lab-timeout: SECONDS".
    tmo=$(timeout_of "$name")
    [[ $lane == netns ]] && wrap=(unshare --net --mount --propagation private bash -c \
        'mkdir -p /run/netns /run/vlanwire && mount -t tmpfs -o mode=755 tmpfs /run/netns &&
         mount -t tmpfs -o mode=700 tmpfs /run/vlanwire && ip link set lo up && exec "$@"' lane)
    : >"$d/started"
    say "$name: running (lane $lane)"
    t0=$(ms)
    (
        cd "/var/tmp/lab/$name" || exit 2
        export LAB_NAME=$name LAB_DIR=$d LAB_REASON=$d/reason LAB_WORK=/var/tmp/lab/$name LAB_LANE=$lane
        if [[ $LAB_VERBOSE == 1 ]]; then
            timeout -k 5 "$tmo" "${wrap[@]}" bash "$script" </dev/null 2>&1 | tee "$d/log"
            exit "${PIPESTATUS[0]}"
        else
            exec timeout -k 5 "$tmo" "${wrap[@]}" bash "$script" </dev/null >"$d/log" 2>&1
        fi
    )
    rc=$?
    t1=$(ms)
    case $rc in
        0) status=pass ;;
        3) status=pending ;;
        124|137) status=fail; echo "timed out after ${tmo} s" >"$d/reason" ;;
        *) status=fail ;;
    esac
    if [[ $status == fail && ! -s $d/reason ]]; then
        echo "exit status $rc" >"$d/reason"
    fi
    dur=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", (b-a)/1000}')
    echo "$dur" >"$d/duration"
    echo "$status" >"$d/status"
    say "$name: $status ($dur s) — $(head -c 200 "$d/reason" 2>/dev/null | tr '\n' ' ')"
    [[ $lane == root ]] && sweep "$name"
}

# Lanes: scenarios that use libvirt (call libvirt_start) need the root namespace and run one after
# another there; the others form a shared queue, each run in a namespace of its own. Two workers:
# one takes the queue from the start, the other runs the libvirt scenarios and then helps with the
# queue, so neither sits idle while the other has work. A scenario is claimed with mkdir (atomic).
libvirt_lane=() shared_queue=()
for name in $LAB_SELECTED; do
    if [[ ${LAB_LANES:-2} == 2 ]] && ! grep -q '^[^#]*libvirt_start' "$REPO/Tests/Lab/scenarios/$name.sh"; then
        shared_queue+=("$name")
    else
        libvirt_lane+=("$name")
    fi
done
# Longest first (by their lab-timeout headers), so the run does not end with one long scenario alone.
if ((${#shared_queue[@]})); then
    # (No process substitution: the VM has no /dev/fd.)
    # shellcheck disable=SC2207  # scenario names have no spaces
    shared_queue=($(for name in "${shared_queue[@]}"; do echo "$(timeout_of "$name") $name"; done | sort -k1,1nr -k2,2 -s | cut -d' ' -f2))
fi
mkdir -p /run/lab-claims
drain_queue() {
    local name
    for name in "${shared_queue[@]}"; do
        mkdir "/run/lab-claims/$name" 2>/dev/null && run_one "$name" netns
    done
}
start_all=$(ms)
if ((${#shared_queue[@]})); then
    drain_queue &
    queue_pid=$!
fi
for name in "${libvirt_lane[@]}"; do run_one "$name" root; done
drain_queue
[[ -n ${queue_pid:-} ]] && wait "$queue_pid"
total=$(awk -v a="$start_all" -v b="$(ms)" 'BEGIN{printf "%.1f", (b-a)/1000}')
echo "scenarios_total $total" >>"$OUT/vm-timing"
say "done (scenarios ${total} s)"
: >"$OUT/done"
trap - EXIT
poweroff_now
