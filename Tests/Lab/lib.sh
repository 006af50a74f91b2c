# Tests/Lab/lib.sh — sourced by every lab scenario:  . "$LAB_LIB"
#
# A fake network made of network namespaces inside the lab VM, checks that send real frames,
# result bookkeeping, and cleanup. Only addresses inside these namespaces are used:
#   VLAN v (1..255)   10.v.0.0/24          (switch .254, guests .N)
#   VLAN v (256..4094) 172.(16+v/256).(v%256).0/24
#   untagged frames   192.0.2.0/24         (on the switch port without a VLAN)
#
# The toolkit:
#   make_switch [--ns NS] [--uplink DEV] [--native VID] VID...
#       namespace NS (default "switch") holding swp1, the far end of a veth whose near end DEV
#       (default eth0) sits in the VM's root namespace as a stand-in uplink; VLAN sub-interfaces
#       swp1.VID with 10.VID.0.254; swp1 itself carries untagged frames: 192.0.2.254, or with
#       --native VID the VID's own address (the switch sends that VLAN untagged).
#   make_access_guest NS TAP VID N
#       namespace NS holding eth0, far end of a veth whose near end TAP (e.g. vnet0) stands in for
#       a guest's tap in the root namespace; eth0 untagged with 10.VID.0.N (VID "untagged": 192.0.2.N).
#   make_trunk_guest [--native VID] NS TAP N VID...
#       like an access guest but eth0.VID sub-interfaces with 10.VID.0.N each (the guest
#       terminates the VLANs itself); eth0 untagged: 192.0.2.N, or the --native VID's address.
#   expect_reach NS ADDR [WHAT] / expect_no_reach NS ADDR [WHAT]
#       ping from namespace NS; a failure is recorded (the scenario goes on, and fails at the end).
#   snapshot NAME [NS]  /  snapshot_diff A B
#       links (ip -d -j link) and bridge VLANs (bridge -j vlan) of the root namespace (or NS)
#       into $LAB_DIR/snap-NAME.*; snapshot_diff prints a diff and returns 1 when they differ.
#   check WHAT CMD... (record pass/fail of a command), fail MSG, die MSG, pending REASON,
#   pass_note TEXT, run CMD... (log and run), nsx NS CMD... (run in NS), defer CMD (cleanup, LIFO),
#   need_vlanwire (pending unless the host-built binary exists), libvirt_start / libvirt_stop /
#   libvirt_restart.
#
# Conventions: the scenario runs with `set -eE -o pipefail` — a setup command that fails ends it
# as failed, with the command in the reason. Exit 0 pass, 3 pending (pending writes the reason),
# anything else fail. Everything created through these functions is removed on exit; the
# runner also sweeps namespaces and links between scenarios and logs what it had to remove.

set -eE -o pipefail
shopt -s inherit_errexit

LAB_NAME=${LAB_NAME:-$(basename "$0" .sh)}
LAB_DIR=${LAB_DIR:-/tmp/lab-$LAB_NAME}
LAB_REASON=${LAB_REASON:-$LAB_DIR/reason}
LAB_WORK=${LAB_WORK:-$LAB_DIR/work}
mkdir -p "$LAB_DIR" "$LAB_WORK"
: >"$LAB_REASON"

_lab_ms() { local s n; IFS=. read -r s n <<<"$EPOCHREALTIME"; echo $((s * 1000 + 10#${n:0:3})); }
_lab_t0=$(_lab_ms)
_lab_checks=0
_lab_fails=0
_lab_first_fail=
_lab_err=
_lab_note=
_lab_netns=()
_lab_links=()
_lab_defer=()

lab_log() {
    local t=$(($(_lab_ms) - _lab_t0))
    printf '[%3d.%03d] %s\n' $((t / 1000)) $((t % 1000)) "$*"
}
run() { lab_log "+ $*"; "$@"; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

fail() {
    _lab_fails=$((_lab_fails + 1)); _lab_checks=$((_lab_checks + 1))
    [[ -n $_lab_first_fail ]] || _lab_first_fail=$*
    lab_log "FAIL: $*"
}
ok() { _lab_checks=$((_lab_checks + 1)); lab_log "ok: $*"; }
die() { fail "$@"; exit 1; }
pending() { printf '%s\n' "$*" >"$LAB_REASON"; lab_log "PENDING: $*"; exit 3; }
pass_note() { _lab_note=$*; }
check() {   # check WHAT CMD...: CMD must succeed
    local what=$1; shift
    local out
    if out=$("$@" 2>&1); then ok "$what"; else fail "$what ($* -> ${out:-exit $?})"; fi
}
defer() { _lab_defer+=("$*"); }

# draw NAME [TRACE-ARGS...]: vlanwire's picture of this namespace (`status --no-libvirt --format dot`),
# or of a guest's path (`trace TRACE-ARGS --format dot`), kept as $LAB_DIR/NAME.dot: a check that the
# real kernel's state draws, and what scripts/demo renders.
draw() {
    local name=$1; shift
    local out=$LAB_DIR/$name.dot
    if (($#)); then
        "$VLANWIRE" trace "$@" --format dot >"$out" 2>"$LAB_DIR/$name.err"
    else
        "$VLANWIRE" status --no-libvirt --format dot >"$out" 2>"$LAB_DIR/$name.err"
    fi
    check "vlanwire draws $name (Graphviz)" bash -c "head -1 '$out' | grep -q '^digraph ' && tail -1 '$out' | grep -qx '}'"
}

need_vlanwire() {
    [[ -n ${VLANWIRE:-} && -x ${VLANWIRE:-} ]] ||
        pending "vlanwire binary not built (swift build; expected ${LAB_VLANWIRE:-${LAB_BUILD_DIR:-\$REPO/.build/debug}/vlanwire})"
}

# ---------------------------------------------------------------- addresses
lab_net() {   # lab_net VID|untagged -> first three octets
    local v=$1
    if [[ $v == untagged || $v == u ]]; then echo 192.0.2; return; fi
    [[ $v =~ ^[0-9]+$ ]] && ((v >= 1 && v <= 4094)) || { echo "lab_net: bad VID '$v'" >&2; return 1; }
    if ((v <= 255)); then echo "10.$v.0"; else echo "172.$((16 + v / 256)).$((v % 256))"; fi
}
lab_addr() { echo "$(lab_net "$1").$2"; }

# ---------------------------------------------------------------- namespaces and links
ns_add() {
    ip netns add "$1"
    _lab_netns+=("$1")
    ip -n "$1" link set lo up
}
# veth_to_ns NEAR NS FAR: NEAR in the root namespace (up, no address), FAR inside NS (up).
veth_to_ns() {
    ip link add "$1" type veth peer name "$3" netns "$2"
    _lab_links+=("$1")
    ip link set "$1" up
    ip -n "$2" link set "$3" up
}
# vlan_if NS DEV VID ADDR/LEN: DEV.VID inside NS with an address, up.
vlan_if() {
    ip -n "$1" link add link "$2" name "$2.$3" type vlan id "$3"
    ip -n "$1" addr add "$4" dev "$2.$3"
    ip -n "$1" link set "$2.$3" up
}

make_switch() {
    local ns=switch uplink=eth0 native= v
    while [[ $# -gt 0 && $1 == --* ]]; do
        case $1 in
            --ns) ns=$2; shift 2 ;;
            --uplink) uplink=$2; shift 2 ;;
            --native) native=$2; shift 2 ;;
            *) echo "make_switch: unknown option $1" >&2; return 2 ;;
        esac
    done
    lab_log "switch: namespace $ns, port swp1 <-> $uplink, VLANs $*${native:+, native $native}"
    ns_add "$ns"
    veth_to_ns "$uplink" "$ns" swp1
    ip -n "$ns" addr add "$(lab_addr "${native:-untagged}" 254)/24" dev swp1
    for v in "$@"; do
        [[ $v == "$native" ]] && continue
        vlan_if "$ns" swp1 "$v" "$(lab_addr "$v" 254)/24"
    done
}

make_access_guest() {   # NS TAP VID N
    local ns=$1 tap=$2 vid=$3 n=$4
    lab_log "access guest: namespace $ns, eth0 <-> $tap, VLAN $vid untagged, $(lab_addr "$vid" "$n")"
    ns_add "$ns"
    veth_to_ns "$tap" "$ns" eth0
    ip -n "$ns" addr add "$(lab_addr "$vid" "$n")/24" dev eth0
}

make_trunk_guest() {    # [--native VID] NS TAP N VID...
    local native=
    if [[ ${1:-} == --native ]]; then native=$2; shift 2; fi
    local ns=$1 tap=$2 n=$3 v; shift 3
    lab_log "trunk guest: namespace $ns, eth0 <-> $tap, tagged VLANs $*${native:+, native $native}"
    ns_add "$ns"
    veth_to_ns "$tap" "$ns" eth0
    ip -n "$ns" addr add "$(lab_addr "${native:-untagged}" "$n")/24" dev eth0
    for v in "$@"; do
        [[ $v == "$native" ]] && continue
        vlan_if "$ns" eth0 "$v" "$(lab_addr "$v" "$n")/24"
    done
}

# destroy_guest NS...: what libvirt's destroy does to a guest's NIC before the release hook runs: the
# tap is gone at once. Deleting the pair from inside is synchronous; `ip netns delete` alone tears
# the namespace's links down later, in the kernel's own time (a release can still see the tap).
destroy_guest() {
    local ns
    for ns in "$@"; do
        ip -n "$ns" link delete eth0 2>/dev/null
        ip netns delete "$ns"
    done
}

# ---------------------------------------------------------------- frames
_lab_ping() { ip netns exec "$1" ping -n -q -c 1 -i 0.2 -w "$3" "$2" >/dev/null 2>&1; }
expect_reach() {        # NS ADDR [WHAT]
    local what=${3:-$1 -> $2}
    if _lab_ping "$1" "$2" 3; then ok "reaches: $what"; else fail "expected to reach: $what"; fi
}
expect_no_reach() {     # NS ADDR [WHAT]
    local what=${3:-$1 -> $2}
    if _lab_ping "$1" "$2" 2; then fail "expected NOT to reach: $what"; else ok "does not reach: $what"; fi
}

# expect_pings LINE...: many expect_reach/expect_no_reach at once, in parallel (a negative ping
# waits its whole deadline; twenty of them one after another cost 40 s under TCG). Each LINE is
# "reach NS ADDR WHAT" or "no NS ADDR WHAT"; results are recorded in the order given.
expect_pings() {
    local line kind ns addr what i=0 pids=() dir=$LAB_WORK/.pings
    mkdir -p "$dir"
    for line in "$@"; do
        read -r kind ns addr what <<<"$line"
        case $kind in
            reach) ( if _lab_ping "$ns" "$addr" 3; then echo 0; else echo 1; fi >"$dir/$i" ) & ;;
            no)    ( if _lab_ping "$ns" "$addr" 2; then echo 0; else echo 1; fi >"$dir/$i" ) & ;;
            *) echo "expect_pings: bad line '$line'" >&2; return 2 ;;
        esac
        pids+=($!); i=$((i + 1))
    done
    wait "${pids[@]}" || true
    i=0
    for line in "$@"; do
        read -r kind ns addr what <<<"$line"
        what=${what:-$ns -> $addr}
        local r; r=$(cat "$dir/$i" 2>/dev/null) || r=
        if [[ $r != [01] ]]; then fail "ping did not report: $what"
        elif [[ $kind == reach ]]; then
            if [[ $r == 0 ]]; then ok "reaches: $what"; else fail "expected to reach: $what"; fi
        else
            if [[ $r == 0 ]]; then fail "expected NOT to reach: $what"; else ok "does not reach: $what"; fi
        fi
        i=$((i + 1))
    done
    rm -rf "$dir"
}
# strict_arp NS: answer ARP only for addresses on the receiving interface (arp_ignore=1), so a
# namespace with several VLAN sub-interfaces does not answer for VLAN 5's address on VLAN 1 — the
# weak host model would otherwise make isolation checks pass for the wrong reason.
strict_arp() {
    ip netns exec "$1" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.default.arp_ignore=1
}

# ---------------------------------------------------------------- snapshots
snapshot() {            # NAME [NS]
    local name=$1 ns=${2:-} pfx=()
    [[ -n $ns ]] && pfx=(ip netns exec "$ns")
    local f=$LAB_DIR/snap-$name
    "${pfx[@]}" ip -d -j link show >"$f.links.json"
    "${pfx[@]}" bridge -j vlan show >"$f.vlans.json" 2>/dev/null || echo '[]' >"$f.vlans.json"
    {
        echo "# links"
        "${pfx[@]}" ip -d -o link show | sed -E 's/^[0-9]+: //; s/\\ +/ /g; s/ [a-z_]+_timer +[0-9.]+//g'
        echo "# bridge vlans"
        "${pfx[@]}" bridge vlan show 2>/dev/null || true
    } >"$f.txt"
    lab_log "snapshot $name${ns:+ (netns $ns)} -> ${f##*/}.*"
}
snapshot_diff() {       # A B: prints the difference; status 1 when they differ
    diff -u "$LAB_DIR/snap-$1.txt" "$LAB_DIR/snap-$2.txt"
}
# check_links SNAP WHAT JQ [WHAT JQ]...: assertions over snapshot SNAP's links (ip -d -j link), all
# in one jq run (each process start costs ~0.3 s under TCG). In JQ, L("name") is that link's object
# (null when absent), LINKS the whole array; each JQ must yield true.
check_links() {
    local snap=$1 prog='' i=0 whats=() res; shift
    while (($#)); do
        whats+=("$1")
        prog+="${prog:+, }(try ($2) catch false | . == true)"
        shift 2
    done
    res=$(jq -r --slurpfile V "$LAB_DIR/snap-$snap.vlans.json" \
        'def L($n): (map(select(.ifname == $n)) | first); . as $LINKS | def LINKS: $LINKS;
         def VLANS($n): ($V[0] | map(select(.ifname == $n)) | first | .vlans // []);
         ['"$prog"'] | map(tostring) | join(" ")' "$LAB_DIR/snap-$snap.links.json") || res=
    read -r -a res <<<"$res"
    for i in "${!whats[@]}"; do
        if [[ ${res[i]:-} == true ]]; then ok "${whats[i]}"; else fail "${whats[i]} (snapshot $snap)"; fi
    done
}
# same_links A B: the links of snapshots A and B compared by what they are — name, kind, master,
# alias, VLAN id, vlan_filtering — not by volatile parts (state, promiscuity, timers); prints the
# difference, status 1 when they differ.
same_links() {
    _inv "$LAB_DIR/snap-$1.links.json" >"$LAB_DIR/snap-$1.inventory"
    _inv "$LAB_DIR/snap-$2.links.json" >"$LAB_DIR/snap-$2.inventory"
    diff "$LAB_DIR/snap-$1.inventory" "$LAB_DIR/snap-$2.inventory"
}
_inv() {
    jq -r '.[] | [.ifname, (.linkinfo.info_kind // "-"), "master=" + (.master // "-"),
        "alias=" + (.ifalias // "-"), "vlan=" + ((.linkinfo.info_data.id // "-") | tostring),
        "filtering=" + ((.linkinfo.info_data.vlan_filtering // "-") | tostring)] | join(" ")' "$1" | sort
}

# ---------------------------------------------------------------- libvirt inside the VM
# One libvirtd serves every libvirt scenario of a run (starting it costs ~15 s under TCG: it probes
# qemu's capabilities): the first libvirt_start starts virtlogd and libvirtd, later ones reuse them.
# At the end of each scenario libvirt_release destroys and undefines every domain, so the next one
# starts from an empty libvirtd. LAB_LIBVIRT_SHARED=0: each scenario starts and stops its own.
# libvirtd decides at start-up whether a qemu hook exists and then runs /etc/libvirt/hooks/qemu
# (and qemu.d/*) afresh at every call: install the hook before the first libvirt_start.
libvirt_running() {
    [[ -s /run/libvirtd.pid ]] && kill -0 "$(cat /run/libvirtd.pid)" 2>/dev/null &&
        virsh -c qemu:///system version >/dev/null 2>&1
}
libvirt_start() {
    # Debian's "default" network would create virbr0 and start dnsmasq: keep it off.
    rm -f /etc/libvirt/qemu/networks/autostart/*.xml
    if [[ ${LAB_LIBVIRT_SHARED:-1} == 1 ]] && libvirt_running; then
        lab_log "libvirtd already running (shared by this run's libvirt scenarios): reused"
        local left; left=$(virsh -c qemu:///system list --all --name 2>/dev/null | sed '/^$/d' | tr '\n' ' ')
        if [[ -n $left ]]; then lab_log "domains left by an earlier scenario, removed: $left"; libvirt_release; fi
        defer libvirt_release
        return 0
    fi
    mkdir -p /var/log/libvirt /var/lib/libvirt/qemu /run/libvirt
    [[ -s /run/virtlogd.pid ]] && kill -0 "$(cat /run/virtlogd.pid)" 2>/dev/null || run virtlogd -d
    run libvirtd -d
    if [[ ${LAB_LIBVIRT_SHARED:-1} == 1 ]]; then defer libvirt_release; else defer libvirt_stop; fi
    libvirt_wait
}
libvirt_wait() {
    local i
    for ((i = 0; i < 300; i++)); do
        virsh -c qemu:///system version >/dev/null 2>&1 && { lab_log "libvirtd answers"; return 0; }
        sleep 0.1
    done
    die "libvirtd did not answer within 30 s"
}
# libvirt_kill: end the running libvirtd (SIGTERM) and wait until it is gone; guests keep running.
libvirt_kill() {
    run kill "$(cat /run/libvirtd.pid)"
    for _ in $(seq 100); do [[ -e /proc/$(cat /run/libvirtd.pid 2>/dev/null)/status ]] 2>/dev/null || break; sleep 0.1; done
    rm -f /run/libvirtd.pid
}
# libvirt_restart: libvirt_kill, start it again and wait until it answers (it looks for hooks anew and
# reconnects to the running guests, running their reconnect hooks).
libvirt_restart() {
    libvirt_kill
    run libvirtd -d
    libvirt_wait
}
# libvirt_release: destroy and undefine every domain (in parallel), leave the daemons running.
libvirt_release() {
    local d
    for d in $(virsh -c qemu:///system list --name 2>/dev/null); do
        virsh -c qemu:///system destroy "$d" >/dev/null 2>&1 &
    done
    wait
    for d in $(virsh -c qemu:///system list --all --name 2>/dev/null); do
        virsh -c qemu:///system undefine "$d" >/dev/null 2>&1 &
    done
    wait
}
libvirt_stop() {
    local p f i
    libvirt_release
    for f in /run/libvirtd.pid /run/virtlogd.pid; do
        [[ -s $f ]] || continue
        p=$(cat "$f")
        kill "$p" 2>/dev/null || continue
        for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
        rm -f "$f"
    done
}

# ---------------------------------------------------------------- cleanup and result
lab_cleanup() {
    local i
    for ((i = ${#_lab_defer[@]} - 1; i >= 0; i--)); do eval "${_lab_defer[i]}" || true; done
    _lab_defer=()
    for ((i = ${#_lab_links[@]} - 1; i >= 0; i--)); do ip link delete "${_lab_links[i]}" 2>/dev/null || true; done
    _lab_links=()
    for ((i = ${#_lab_netns[@]} - 1; i >= 0; i--)); do ip netns delete "${_lab_netns[i]}" 2>/dev/null || true; done
    _lab_netns=()
}

_lab_on_err() {
    local rc=$1 line=$2 cmd=$3
    [[ -n $_lab_err ]] || _lab_err="line $line: '$cmd' exited $rc"
}
_lab_on_exit() {
    local rc=$?
    set +eE; trap - ERR
    lab_cleanup
    case $rc in
        0)  if ((_lab_fails > 0)); then rc=1; fi ;;
        3)  exit 3 ;;
    esac
    if ((rc != 0)); then
        if ((_lab_fails == 1)); then
            echo "$_lab_first_fail${_lab_err:+; then stopped at $_lab_err}" >"$LAB_REASON"
        elif ((_lab_fails > 1)); then
            echo "$_lab_fails of $_lab_checks checks failed; first: $_lab_first_fail${_lab_err:+; then stopped at $_lab_err}" >"$LAB_REASON"
        elif [[ -n $_lab_err ]]; then
            echo "$_lab_err" >"$LAB_REASON"
        elif ((rc == 143 || rc == 130)); then
            echo "killed by a signal (timeout?)" >"$LAB_REASON"
        else
            echo "exit status $rc" >"$LAB_REASON"
        fi
        lab_log "FAILED: $(cat "$LAB_REASON")"
    else
        local r=$_lab_note
        ((_lab_checks == 0)) || r="${r:+$r; }$_lab_checks checks"
        echo "${r:-ok}" >"$LAB_REASON"
        lab_log "PASSED: $(cat "$LAB_REASON")"
    fi
    exit "$rc"
}
trap '_lab_on_err $? $LINENO "$BASH_COMMAND"' ERR
trap '_lab_on_exit' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
