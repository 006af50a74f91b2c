#!/bin/bash
# status and reconcile with real libvirtd and vlanwire's hook: port VLANs removed by hand show as a mismatch, reconcile restores them, a lost state file is rebuilt, set-port --live re-applies at once.
# lab-timeout: 300
#
# The virsh-driven workflow end to end on a vlan-aware trunk bridge: `vlanwire networks define`,
# a guest whose NIC comes from `vlanwire interface-xml` with its policy set by `vlanwire set-port`,
# a guest on a network portgroup, both started (paused, nested TCG) through vlanwire's hook. The
# outputs are kept in $LAB_DIR (status-*.txt, reconcile-*.txt, ...) as README material.
. "$LAB_LIB"
need_vlanwire

V=(virsh -c qemu:///system)
VW=("$VLANWIRE")
web=52:54:00:00:05:01
router=52:54:00:00:05:02

# eth0 (the uplink, a veth to a switch carrying VLANs 5 and 10) in br0, a vlan-aware trunk bridge.
make_switch 5 10
run ip link add br0 type bridge vlan_filtering 1 stp_state 0 forward_delay 0
defer ip link delete br0
run ip link set eth0 master br0
run ip link set br0 up

mkdir -p /etc/vlanwire
cat >/etc/vlanwire/vlanwire.toml <<'TOML'
[[uplink]]
interface = "eth0"
bridge = "br0"
mode = "vlan-aware"
vlans = "1,5,10-20"

[[network]]
name = "lan"
uplink = "eth0"
portgroups = { office = "10", router = "trunk:5,10-20 native:1" }
default-portgroup = "office"
TOML
defer rm -rf /etc/vlanwire /run/vlanwire

# The hook must be in place before libvirtd starts.
run "${VW[@]}" install-hook --binary "$VLANWIRE" | tee "$LAB_DIR/install-hook.txt"
defer rm -rf /etc/libvirt/hooks/qemu /etc/libvirt/hooks/qemu.d
libvirt_start

run "${VW[@]}" networks define --start | tee "$LAB_DIR/networks-define.txt"
defer "${V[*]} net-destroy lan >/dev/null 2>&1; ${V[*]} net-undefine lan >/dev/null 2>&1"
check "network lan is active" bash -c "${V[*]} net-list --name | grep -qx lan"

# web1: its NIC from `vlanwire interface-xml` (the <interface> part), its policy from `vlanwire set-port`.
"${VW[@]}" interface-xml --bridge br0 --mac "$web" --access 5 | tee "$LAB_DIR/interface-xml.txt"
"${VW[@]}" interface-xml --bridge br0 --mac "$web" --access 5 | sed '/^<vlans>/,$d' >"$LAB_WORK/web1-nic.xml"
guest_xml() {   # NAME DEVICES
    cat <<XML
<domain type='qemu'>
  <name>$1</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>$LAB_KERNEL</kernel></os>
  <devices>$2</devices>
</domain>
XML
}
guest_xml web1 "$(cat "$LAB_WORK/web1-nic.xml")" >"$LAB_WORK/web1.xml"
guest_xml router1 "<interface type='network'><mac address='$router'/><source network='lan' portgroup='router'/><model type='virtio'/></interface>" \
    >"$LAB_WORK/router1.xml"
for g in web1 router1; do
    run "${V[@]}" define "$LAB_WORK/$g.xml"
    defer "${V[*]} destroy $g >/dev/null 2>&1; ${V[*]} undefine $g >/dev/null 2>&1"
done
run "${VW[@]}" set-port web1 --mac "$web" --access 5 | tee "$LAB_DIR/set-port.txt"
# Both at once (each start costs ~10 s of emulated CPU; the hooks of different guests run concurrently).
lab_log "+ virsh start web1 & virsh start router1 (--paused, in parallel)"
"${V[@]}" start web1 --paused & p1=$!
"${V[@]}" start router1 --paused & p2=$!
wait $p1; wait $p2

tap_of() { "${V[@]}" domiflist "$1" | awk -v m="$2" '$5 == m {print $1}'; }
webtap=$(tap_of web1 "$web")
routertap=$(tap_of router1 "$router")
lab_log "taps: web1 $webtap, router1 $routertap"
[[ -n $webtap && -n $routertap ]] || die "no taps found (domiflist)"

# vlans_of TAP: "VID flags" lines from `bridge -j vlan show dev TAP`, e.g. "5 PVID Egress Untagged".
vlans_of() {
    bridge -compressvlans -j vlan show dev "$1" | jq -r '.[] | .vlans[]? |
        ([(.vlan | tostring) + (if .vlanEnd then "-" + (.vlanEnd | tostring) else "" end)] + (.flags // [])) | join(" ")'
}
vlans_of "$webtap" | tee "$LAB_WORK/web-vlans.txt"
check "the hook made web1's port access 5 (PVID, untagged, nothing else)" \
    bash -c "[ \"\$(tr '\n' ';' <'$LAB_WORK/web-vlans.txt')\" = '5 PVID Egress Untagged;' ]"
vlans_of "$routertap" | tee "$LAB_WORK/router-vlans.txt"
check "the hook made router1's port trunk 5,10-20 native 1" \
    bash -c "[ \"\$(tr '\n' ';' <'$LAB_WORK/router-vlans.txt')\" = '1 PVID Egress Untagged;5;10-20;' ]"

# status_json: one python expression over `vlanwire status --json` (variable d).
status_json() {
    "$VLANWIRE" status --json | python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"
}
export -f vlans_of status_json
mismatches='sum(len(n["mismatches"]) for g in d["libvirt"]["guests"] for n in g["nics"])'

"${VW[@]}" status | tee "$LAB_DIR/status-clean.txt"
check "status: libvirt connected" grep -q "^Guests (qemu:///system, 2 running):" "$LAB_DIR/status-clean.txt"
check "status: every NIC as its policy says" grep -qx "Every guest NIC is as its definition and policy say." "$LAB_DIR/status-clean.txt"
check "status: router1's policy comes from the portgroup" grep -q "network lan portgroup router" "$LAB_DIR/status-clean.txt"
check "status --json: no mismatch" bash -c "[ \"\$(status_json '$mismatches')\" = 0 ]"

# Drift: someone removes web1's VLAN by hand.
run bridge vlan del dev "$webtap" vid 5
"${VW[@]}" status | tee "$LAB_DIR/status-drift.txt"
check "status shows the removed VLAN" grep -q "the port has no VLANs; the policy needs pvid 5, untagged 5" "$LAB_DIR/status-drift.txt"
check "status says reconcile fixes it" grep -q '^1 mismatch; `vlanwire reconcile` fixes it' "$LAB_DIR/status-drift.txt"
check "status --json: kind vlans-differ" bash -c \
    "[ \"\$(status_json '[m[\"kind\"] for g in d[\"libvirt\"][\"guests\"] for n in g[\"nics\"] for m in n[\"mismatches\"]]')\" = \"['vlans-differ']\" ]"

"${VW[@]}" reconcile --plan | tee "$LAB_DIR/reconcile-plan.txt"
check "reconcile --plan shows the fix" grep -q "bridge vlan add dev $webtap vid 5 pvid untagged" "$LAB_DIR/reconcile-plan.txt"
check "reconcile --plan changed nothing" bash -c "[ -z \"\$(vlans_of $webtap)\" ]"

run "${VW[@]}" reconcile | tee "$LAB_DIR/reconcile.txt"
check "reconcile: web1 fixed" grep -q "^web1: 1 action applied" "$LAB_DIR/reconcile.txt"
check "reconcile: router1 unchanged" grep -qx "router1: nothing to change" "$LAB_DIR/reconcile.txt"
check "web1's port is access 5 again" bash -c "[ \"\$(vlans_of $webtap | tr '\n' ';')\" = '5 PVID Egress Untagged;' ]"
"${VW[@]}" status | tee "$LAB_DIR/status-fixed.txt"
check "status clean after reconcile" grep -qx "Every guest NIC is as its definition and policy say." "$LAB_DIR/status-fixed.txt"

# The state file lost: reconcile rebuilds it from libvirt's running guests.
run rm /run/vlanwire/state.json
run "${VW[@]}" reconcile | tee "$LAB_DIR/reconcile-rebuild.txt"
check "reconcile says the state was rebuilt" grep -q "the state file was missing or unreadable: rebuilt" "$LAB_DIR/reconcile-rebuild.txt"
cp /run/vlanwire/state.json "$LAB_DIR/state-rebuilt.json"
cat /run/vlanwire/guests/*.json >"$LAB_DIR/guests-rebuilt.json"
check "rebuilt state: users known" jq -e '.usersUnknown == false' /run/vlanwire/state.json
check "rebuilt state records both guests, one file each" \
    jq -se 'map(.name) | sort == ["router1", "web1"]' /run/vlanwire/guests/router1.json /run/vlanwire/guests/web1.json
check "rebuilt records name both taps" \
    jq -se --arg a "$webtap" --arg b "$routertap" '[.[].nics[].tap] | sort == ([$a, $b] | sort)' /run/vlanwire/guests/*.json

# set-port --live re-applies at once.
run "${VW[@]}" set-port web1 --mac "$web" --access 10 --live | tee "$LAB_DIR/set-port-live.txt"
check "set-port --live moved web1 to VLAN 10" bash -c "[ \"\$(vlans_of $webtap | tr '\n' ';')\" = '10 PVID Egress Untagged;' ]"
check "set-port --live said what it did" grep -q "^running guest: .* applied" "$LAB_DIR/set-port-live.txt"
"${VW[@]}" status --json >"$LAB_DIR/status-final.json"
check "status clean after set-port --live" bash -c "[ \"\$(status_json '$mismatches')\" = 0 ]"

pass_note "status shows a removed port VLAN, reconcile restores it and rebuilds a lost state file, set-port --live re-applies"
