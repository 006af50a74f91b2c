#!/bin/bash
# vlanwire watch with real libvirtd: fail-closed br0 with no frame lost across the change; hot-plugged NICs (virsh attach-interface --live) wired from their pending policies (latency measured); a paused watch leaves a new tap with no VLAN at all; port VLAN, leg, access bridge and tap drift repaired; a live metadata change applied; libvirtd restarted under watch; guests started in parallel with no repair fighting the hook; idle cost; SIGTERM.
# lab-timeout: 600
#
# LAB_WATCH_ATTACHES hot-plugs (default 20, as issue 14 asks), LAB_WATCH_GUESTS guests x 4 NICs started
# in parallel while watch runs (default 4; LAB_WATCH_GUESTS=20 for the issue's 20). Latencies come
# from timestamps, not polling: the tap joining br0 (`ip -ts monitor link`) or the drift command,
# against watch's own log line for the repair (milliseconds).
. "$LAB_LIB"
need_vlanwire

V=(virsh -c qemu:///system)
ATTACHES=${LAB_WATCH_ATTACHES:-20}
GUESTS=${LAB_WATCH_GUESTS:-4}

# br0: vlan-aware trunk bridge (eth0 to a switch with VLANs 20, 30 and untagged traffic), the host's
# own address on it (untagged: VLAN 1), and "old0", a port vlanwire does not manage (a container's
# veth) on the default VLAN 1. brc: a classic trunk bridge on eth1 (VLAN 40) for an access bridge.
make_switch 20 30
make_switch --ns switch2 --uplink eth1 40
run ip link add br0 type bridge vlan_filtering 1 stp_state 0 forward_delay 0
defer ip link delete br0
run ip link set eth0 master br0
run ip addr add 192.0.2.253/24 dev br0
run ip link set br0 up
make_access_guest old old0 untagged 11
run ip link set old0 master br0
run ip link add brc type bridge stp_state 0 forward_delay 0
defer ip link delete brc
run ip link set eth1 master brc
run ip link set brc up

# No native-vlan: eth0 carries VLAN 1 untagged only by the kernel's default, which closing br0 must keep.
mkdir -p /etc/vlanwire
cat >/etc/vlanwire/vlanwire.toml <<'TOML'
[[uplink]]
interface = "eth0"
bridge = "br0"
mode = "vlan-aware"
vlans = "1,20,30"

[[uplink]]
interface = "eth1"
bridge = "brc"
mode = "classic"
vlans = "40"
TOML
defer rm -rf /etc/vlanwire /run/vlanwire
run "$VLANWIRE" install-hook --binary "$VLANWIRE" >/dev/null
defer rm -rf /etc/libvirt/hooks/qemu /etc/libvirt/hooks/qemu.d
libvirt_start

vlans_of() {    # TAP -> "VID flags;" lines joined, e.g. "20 PVID Egress Untagged;"
    bridge -compressvlans -j vlan show dev "$1" | jq -r '[.[] | .vlans[]? |
        ([(.vlan | tostring) + (if .vlanEnd then "-" + (.vlanEnd | tostring) else "" end)] + (.flags // [])) | join(" ")] | map(. + ";") | join("")'
}
tap_of() { "${V[@]}" domiflist "$1" | awk -v m="$2" '$5 == m {print $1}'; }
master_of() { ip -j link show dev "$1" 2>/dev/null | jq -r '.[0].master // ""'; }
wait_for() {    # SECONDS WHAT CMD...: polls CMD until it succeeds; fails the check otherwise
    local seconds=$1 what=$2 i; shift 2
    for ((i = 0; i < seconds * 5; i++)); do "$@" >/dev/null 2>&1 && { ok "$what"; return 0; }; sleep 0.2; done
    fail "$what (waited ${seconds} s)"
    return 1
}
export -f vlans_of
ms_of() { date -d "$1" +%s%3N; }   # ISO 8601 -> epoch ms
now_ms() { date +%s%3N; }

# w1: NIC 1 access 20 on br0; NIC 2 on the classic access bridge brcv40 (its name is its policy).
# Pending policies (no NIC yet) for the NICs to be hot-plugged: access 30.
w1=52:54:00:00:26:01
w1c=52:54:00:00:26:02
paused_mac=52:54:00:00:26:ff
hot_mac() { printf '52:54:00:00:26:%02x' $((16 + $1)); }
entries="<vw:interface mac='$w1'><vw:vlan tags='20'/></vw:interface><vw:interface mac='$paused_mac'><vw:vlan tags='30'/></vw:interface>"
for ((i = 1; i <= ATTACHES; i++)); do entries+="<vw:interface mac='$(hot_mac $i)'><vw:vlan tags='30'/></vw:interface>"; done
domain() {   # NAME DEVICES [METADATA-ENTRIES]
    cat <<XML
<domain type='qemu'>
  <name>$1</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  ${3:+<metadata><vw:vlans xmlns:vw='urn:vlanwire:1'>$3</vw:vlans></metadata>}
  <features><acpi/></features>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>$LAB_KERNEL</kernel></os>
  <devices>$2</devices>
</domain>
XML
}
nic() { echo "<interface type='bridge'><mac address='$1'/><source bridge='$2'/><model type='virtio'/></interface>"; }
domain w1 "$(nic $w1 br0)$(nic $w1c brcv40)" "$entries" >"$LAB_WORK/w1.xml"
run "${V[@]}" define "$LAB_WORK/w1.xml" >/dev/null

# 1. Fail closed, and no frame lost: 750 pings, one every 20 ms, from the switch to br0's own address
#    and to old0, run to their end while w1 starts; its prepare hook closes br0 (vlan_default_pvid 0).
ip netns exec switch ping -n -i 0.02 -c 750 -w 120 192.0.2.253 >"$LAB_DIR/ping-br0.txt" 2>&1 & ping_self=$!
ip netns exec switch ping -n -i 0.02 -c 750 -w 120 192.0.2.11 >"$LAB_DIR/ping-old0.txt" 2>&1 & ping_old=$!
sleep 1
run "${V[@]}" start w1 --paused
wait $ping_self $ping_old || true
for f in ping-br0 ping-old0; do
    line=$(grep -E "packets transmitted" "$LAB_DIR/$f.txt" || true)
    sent=$(awk '{print $1}' <<<"$line"); got=$(awk '{print $4}' <<<"$line")
    lab_log "$f: $line"
    check "fail-closed change: no frame lost ($f: ${got:-?}/${sent:-?} answered)" test -n "$sent" -a "$sent" -gt 50 -a "$sent" = "$got"
done
closed=$(ip -d -j link show br0 | jq '.[0].linkinfo.info_data.vlan_default_pvid')
check "br0 is closed: vlan_default_pvid 0 (was 1)" test "$closed" = 0
check "eth0 keeps VLAN 1 untagged (kept) and carries 20, 30 tagged" test "$(vlans_of eth0)" = "1 PVID Egress Untagged;20;30;"
check "old0 (not vlanwire's) keeps VLAN 1 untagged" test "$(vlans_of old0)" = "1 PVID Egress Untagged;"
check "br0 itself keeps VLAN 1 untagged" bash -c "bridge -j vlan show dev br0 | jq -e '.[0].vlans | any(.vlan == 1 and ((.flags // []) | index(\"PVID\")))'"
tap1=$(tap_of w1 $w1); tapc=$(tap_of w1 $w1c)
[[ -n $tap1 && -n $tapc ]] || die "w1 has no taps"
check "w1's access port: VLAN 20 only" test "$(vlans_of "$tap1")" = "20 PVID Egress Untagged;"
check "w1's classic port: in brcv40, fed by brc.40" bash -c "[ \"\$(ip -j link show dev $tapc | jq -r '.[0].master')\" = brcv40 ] && [ \"\$(ip -j link show dev brc.40 | jq -r '.[0].master')\" = brcv40 ]"

# 2. watch, as the service runs it.
"$VLANWIRE" watch >"$LAB_DIR/watch.log" 2>&1 & watch_pid=$!
defer "kill $watch_pid 2>/dev/null; wait $watch_pid 2>/dev/null"
wait_for 30 "watch started and reconciled the running guest" grep -q "reconciled 1 running guest" "$LAB_DIR/watch.log"
repaired_ms() {   # ERE [AFTER-LINE]: time (epoch ms) of the first watch log line matching ERE after line AFTER
    local at; at=$(PATTERN=$1 awk -v after="${2:-0}" 'NR > after && $0 ~ ENVIRON["PATTERN"] { print $1; exit }' "$LAB_DIR/watch.log")
    if [[ -n $at ]]; then ms_of "$at"; fi
}
log_lines() { wc -l <"$LAB_DIR/watch.log"; }

# 3. Hot-plug: each NIC joins br0 with no VLAN (br0 is closed) and gets its pending policy from watch.
ip -ts -o monitor link >"$LAB_DIR/monitor.txt" 2>&1 & monitor=$!
t0=$(now_ms)
for ((i = 1; i <= ATTACHES; i++)); do
    "${V[@]}" attach-interface w1 bridge br0 --mac "$(hot_mac $i)" --model virtio --live >/dev/null 2>"$LAB_WORK/attach-$i.err" ||
        lab_log "attach $i failed: $(cat "$LAB_WORK/attach-$i.err")"
done
lab_log "$ATTACHES attaches in $(( $(now_ms) - t0 )) ms"
all_wired() {
    local i tap
    for ((i = 1; i <= ATTACHES; i++)); do
        tap=$(tap_of w1 "$(hot_mac $i)"); [[ -n $tap && $(vlans_of "$tap") == "30 PVID Egress Untagged;" ]] || return 1
    done
}
wait_for 30 "all $ATTACHES hot-plugged NICs carry exactly their policy (access 30)" all_wired
kill $monitor 2>/dev/null; wait $monitor 2>/dev/null || true
latencies=()
for ((i = 1; i <= ATTACHES; i++)); do
    tap=$(tap_of w1 "$(hot_mac $i)")
    joined=$(grep -m1 -E "^\[[^]]*\] [0-9]+: $tap[:@].* master br0" "$LAB_DIR/monitor.txt" | sed -E 's/^\[([^]]*)\].*/\1/')
    wired=$(repaired_ms "repaired guest 'w1', NIC $(hot_mac $i) \($tap\)")
    [[ -n $joined && -n $wired ]] && latencies+=($(( wired - $(ms_of "$joined") )))
done
sorted=($(printf '%s\n' "${latencies[@]}" | sort -n))
median=${sorted[$(( ${#sorted[@]} / 2 ))]:-}; max=${sorted[-1]:-}
lab_log "hot-plug: tap joined br0 -> wired by watch, ms: ${sorted[*]}"
echo "hot-plug latency ms (tap joins br0 -> watch logged the repair): n=${#sorted[@]} median=$median max=$max" | tee "$LAB_DIR/hotplug-latency.txt"
check "hot-plug latency measured for all $ATTACHES (median ${median:-?} ms, max ${max:-?} ms)" test "${#sorted[@]}" = "$ATTACHES"
# Reported, not asserted against the 1 s target (a loaded CI machine would make it flaky): the bound
# here only catches a watch that stopped reacting to hot-plugs.
check "every hot-plug wired within 10 s of its tap joining br0 (max ${max:-?} ms; target 1000)" test -n "$max" -a "${max:-99999}" -lt 10000

# 4. Fail closed, deterministically: watch paused, a hot-plugged tap carries no VLAN at all.
run kill -STOP $watch_pid
run "${V[@]}" attach-interface w1 bridge br0 --mac $paused_mac --model virtio --live
paused_tap=$(tap_of w1 $paused_mac)
sleep 2
check "watch paused: the new tap $paused_tap is in br0 and carries no VLAN" \
    bash -c "[ \"\$(ip -j link show dev $paused_tap | jq -r '.[0].master')\" = br0 ] && [ -z \"\$(vlans_of $paused_tap)\" ]"
run kill -CONT $watch_pid
wait_for 10 "watch resumed: $paused_tap wired (access 30)" bash -c "[ \"\$(vlans_of $paused_tap)\" = '30 PVID Egress Untagged;' ]"

# 5. Drift, each repaired (latency from the drift command to watch's log line).
drift() {   # WHAT EXPECT-PATTERN CHECK-CMD -- DRIFT-CMD...
    local what=$1 pattern=$2 checker=$3; shift 4
    local before; before=$(log_lines)
    local start; start=$(now_ms)
    run "$@"
    if wait_for 10 "$what: repaired" bash -c "$checker"; then
        local at; at=$(repaired_ms "$pattern" "$before")
        check "$what: watch logged the repair" test -n "$at"
        local took=$(( ${at:-$start} - start ))
        [[ -n $at ]] || took="?"
        lab_log "$what: repaired after $took ms"
        echo "$what: $took ms" >>"$LAB_DIR/drift-latency.txt"
    fi
}
drift "bridge vlan del on w1's port" "repaired guest 'w1', NIC $w1" "[ \"\$(vlans_of $tap1)\" = '20 PVID Egress Untagged;' ]" -- \
    bridge vlan del dev "$tap1" vid 20
drift "VLAN leg brc.40 deleted" "repaired guest 'w1'" "[ \"\$(ip -j link show dev brc.40 2>/dev/null | jq -r '.[0].master')\" = brcv40 ]" -- \
    ip link del brc.40
drift "access bridge brcv40 deleted" "repaired guest 'w1'" \
    "[ \"\$(ip -j link show dev $tapc | jq -r '.[0].master')\" = brcv40 ] && [ \"\$(ip -j link show dev brc.40 | jq -r '.[0].master')\" = brcv40 ]" -- \
    ip link del brcv40
drift "w1's tap moved to brc by hand" "repaired guest 'w1', NIC $w1" \
    "[ \"\$(ip -j link show dev $tap1 | jq -r '.[0].master')\" = br0 ] && [ \"\$(vlans_of $tap1)\" = '20 PVID Egress Untagged;' ]" -- \
    ip link set "$tap1" master brc

# 6. A live policy change: w1's NIC from access 20 to access 30 (virsh metadata --live; the time
#    includes virsh's own start, ~0.7 s under emulation).
live_entries=${entries/"<vw:interface mac='$w1'><vw:vlan tags='20'/>"/"<vw:interface mac='$w1'><vw:vlan tags='30'/>"}
plain=$(sed "s/vw://g" <<<"$live_entries")
drift "virsh metadata --live: access 20 -> 30" "repaired guest 'w1', NIC $w1" "[ \"\$(vlans_of $tap1)\" = '30 PVID Egress Untagged;' ]" -- \
    "${V[@]}" metadata w1 urn:vlanwire:1 --key vw --live --set "<vlans>$plain</vlans>"

# 7. libvirtd restarted under watch: it reconnects and keeps repairing.
before=$(log_lines)
libvirt_kill
wait_for 20 "watch saw libvirtd go" bash -c "tail -n +$((before + 1)) '$LAB_DIR/watch.log' | grep -q 'lost libvirt'"
run libvirtd -d
libvirt_wait
wait_for 60 "watch reconnected to the restarted libvirtd" bash -c "tail -n +$((before + 1)) '$LAB_DIR/watch.log' | grep -q 'connected to libvirt'"
# libvirtd's own reconnect hooks run for a while after it answers; let them finish, so the next
# repair is watch's.
sleep 5
drift "bridge vlan del after the restart" "(repaired|reconciled) guest 'w1'" "[ \"\$(vlans_of $tap1)\" = '30 PVID Egress Untagged;' ]" -- \
    bridge vlan del dev "$tap1" vid 30

# 8. Guests started in parallel while watch runs: the hooks wire them, watch never acts on them.
declare -A want
names=()
for ((g = 1; g <= GUESTS; g++)); do
    name=$(printf 'p%02d' $g); names+=("$name"); devices=""; meta=""
    for n in 1 2 3 4; do
        mac=$(printf '52:54:00:26:%02x:%02x' $g $n)
        devices+=$(nic "$mac" br0)
        case $n in
            1|2) meta+="<vw:interface mac='$mac'><vw:vlan tags='$((10 * (n + 1)))'/></vw:interface>"; want[$mac]="$((10 * (n + 1))) PVID Egress Untagged;" ;;
            3) meta+="<vw:interface mac='$mac'><vw:vlan trunk='yes' tags='20,30'/></vw:interface>"; want[$mac]="20;30;" ;;
            4) meta+="<vw:interface mac='$mac'><vw:vlan trunk='yes' tags='20,30' native='1'/></vw:interface>"; want[$mac]="1 PVID Egress Untagged;20;30;" ;;
        esac
    done
    domain "$name" "$devices" "$meta" >"$LAB_WORK/$name.xml"
    "${V[@]}" define "$LAB_WORK/$name.xml" >/dev/null
done
before=$(log_lines)
t0=$(now_ms)
starts=()
for name in "${names[@]}"; do ( "${V[@]}" start "$name" --paused >"$LAB_WORK/start-$name.txt" 2>&1; echo $? >"$LAB_WORK/start-$name.rc" ) & starts+=($!); done
wait "${starts[@]}"   # not a bare wait: watch runs in the background too
lab_log "$GUESTS guests x 4 NICs started in parallel in $(( $(now_ms) - t0 )) ms"
check "all $GUESTS guests started" bash -c "cat $LAB_WORK/start-p*.rc | grep -qv '^0$' && exit 1 || exit 0"
sleep 2
bad=()
for name in "${names[@]}"; do
    for ((n = 1; n <= 4; n++)); do
        mac=$(printf '52:54:00:26:%02x:%02x' "${name#p}" "$n"); tap=$(tap_of "$name" "$mac")
        [[ -n $tap && $(vlans_of "$tap") == "${want[$mac]}" ]] || bad+=("$name/$mac:$tap:$(vlans_of "$tap" 2>/dev/null)")
    done
done
check "every tap of the $GUESTS parallel guests exact (${#bad[@]} wrong: ${bad[*]:0:3})" test ${#bad[@]} -eq 0
check "watch did nothing to a guest its hook was starting (no repair line for p01..)" \
    bash -c "! tail -n +$((before + 1)) '$LAB_DIR/watch.log' | grep -E \"repaired guest 'p[0-9]+'|reconciled guest 'p[0-9]+'\""

# 9. Idle cost (under emulation: a real host is ~10x cheaper): CPU over 20 idle seconds; memory
#    (RSS counts the binary's pages and libvirt's shared libraries; Anonymous is watch's own heap).
ticks() { awk '{print $14 + $15}' "/proc/$watch_pid/stat"; }
a=$(ticks); sleep 20; b=$(ticks)
memory() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$watch_pid/smaps_rollup"; }
rss=$(memory Rss); anonymous=$(memory Anonymous)
echo "watch idle: $((b - a)) clock ticks of CPU in 20 s ($(awk -v t=$((b - a)) 'BEGIN {printf "%.2f", t / 20}') %), RSS ${rss} KiB, anonymous ${anonymous} KiB" | tee "$LAB_DIR/idle.txt"
check "watch's own memory (anonymous) under 20 MiB (${anonymous} KiB; RSS ${rss} KiB)" test "$anonymous" -lt 20480
check "watch's RSS under 48 MiB (a regression bound; ${rss} KiB)" test "$rss" -lt 49152

# 10. SIGTERM: exit 0.
run kill -TERM $watch_pid
status=0; wait $watch_pid || status=$?
check "watch exits 0 on SIGTERM" test "$status" = 0
grep -E "repaired|reconciled|error|lost|connected" "$LAB_DIR/watch.log" | tail -40

pass_note "fail-closed br0, 0 frames lost; $ATTACHES hot-plugs wired (median ${median:-?} ms, max ${max:-?} ms after the tap joined); paused watch: new tap had no VLAN; drift repaired ($(tr '\n' ',' <"$LAB_DIR/drift-latency.txt" | sed 's/,$//')); libvirtd restart survived; $GUESTS x 4 NICs in parallel, no fight; $(cat "$LAB_DIR/idle.txt")"
