#!/bin/bash
# doctor and trace with real libvirtd and vlanwire's hook: running guests are read from libvirt (clean
# layout: nothing above info), a tap moved by hand is drift naming the guest (exit 1), trace GUEST reads
# the running guest, reconcile fixes the drift, and with libvirtd gone doctor says so and checks the rest.
# lab-timeout: 300
. "$LAB_LIB"
need_vlanwire

V=(virsh -c qemu:///system)
app=52:54:00:00:07:01
router=52:54:00:00:07:02

# The seed's layouts side by side, as vlanwire builds them: eth0 in br0 (classic), access bridge
# br0v5 fed by br0.5 for app1, router1 a trunk guest on br0.
make_switch --native 1 5 10
run ip link add br0 type bridge stp_state 0 forward_delay 0
defer ip link delete br0
run ip link set eth0 master br0
run ip link set br0 up

mkdir -p /etc/vlanwire
cat >/etc/vlanwire/vlanwire.toml <<'TOML'
[[uplink]]
interface = "eth0"
bridge = "br0"
mode = "classic"
vlans = "1,5,10"
native-vlan = 1
TOML
defer rm -rf /etc/vlanwire /run/vlanwire

run "$VLANWIRE" install-hook --binary "$VLANWIRE"
defer rm -rf /etc/libvirt/hooks/qemu /etc/libvirt/hooks/qemu.d
libvirt_start

guest_xml() {   # NAME METADATA DEVICES
    cat <<XML
<domain type='qemu'>
  <name>$1</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <metadata><vw:vlans xmlns:vw='urn:vlanwire:1'>$2</vw:vlans></metadata>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>$LAB_KERNEL</kernel></os>
  <devices>$3</devices>
</domain>
XML
}
guest_xml app1 "" "<interface type='bridge'><mac address='$app'/><source bridge='br0v5'/><model type='virtio'/></interface>" \
    >"$LAB_WORK/app1.xml"
guest_xml router1 "<vw:interface mac='$router'><vw:vlan trunk='yes' tags='1,5,10' native='1'/></vw:interface>" \
    "<interface type='bridge'><mac address='$router'/><source bridge='br0'/><model type='virtio'/></interface>" \
    >"$LAB_WORK/router1.xml"
for g in app1 router1; do
    run "${V[@]}" define "$LAB_WORK/$g.xml"
    defer "${V[*]} destroy $g >/dev/null 2>&1; ${V[*]} undefine $g >/dev/null 2>&1"
done
lab_log "+ virsh start app1 & virsh start router1 (--paused, in parallel)"
"${V[@]}" start app1 --paused & p1=$!
"${V[@]}" start router1 --paused & p2=$!
wait $p1; wait $p2
tap_of() { "${V[@]}" domiflist "$1" | awk -v m="$2" '$5 == m {print $1}'; }
apptap=$(tap_of app1 "$app")
routertap=$(tap_of router1 "$router")
lab_log "taps: app1 $apptap, router1 $routertap"
[[ -n $apptap && -n $routertap ]] || die "no taps found (domiflist)"
"$VLANWIRE" status || true

# doctor NAME: JSON into $LAB_DIR/doctor-NAME.json (table in .txt); sets doctor_rc.
doctor() {
    set +e
    "$VLANWIRE" doctor | tee "$LAB_DIR/doctor-$1.txt"
    "$VLANWIRE" doctor --json >"$LAB_DIR/doctor-$1.json"
    doctor_rc=$?
    set -e
}
checks() { jq -c '[.findings[] | select(.severity != "info") | .check]' "$LAB_DIR/doctor-$1.json"; }

doctor clean
check "doctor exits 0 with both guests running" test "$doctor_rc" -eq 0
check "no finding above info (got $(checks clean))" test "$(checks clean)" = "[]"
check "guests were read from libvirt (no 'guests' info finding)" jq -e \
    '[.findings[] | select(.check == "guests")] | length == 0' "$LAB_DIR/doctor-clean.json"

"$VLANWIRE" trace app1 | tee "$LAB_DIR/trace-app1.txt"
"$VLANWIRE" trace app1 --json >"$LAB_DIR/trace-app1.json"
check "trace app1 (from libvirt): VLAN 5 through br0.5 and br0v5 to its tap, both ways" jq -e --arg tap "$apptap" \
    '.nics[0] | .tap == $tap and (.flows[0] | .vlan == "5" and .inbound.droppedAt == null and .outbound.droppedAt == null
     and [.inbound.hops[].link] == ["eth0","br0","br0.5","br0v5",$tap,"guest"])' "$LAB_DIR/trace-app1.json"

# Someone moves app1's tap into the trunk bridge: app1 now sees every VLAN tagged, and VLAN 5 nowhere untagged.
run ip link set "$apptap" master br0
doctor drift
check "drift: doctor exits 1" test "$doctor_rc" -eq 1
check "drift: the drift is the only finding above info (br0v5 is app1's, not a leftover; got $(checks drift))" \
    test "$(checks drift)" = '["tap-bridge-drift"]'
check "drift: the fix is reconcile" jq -e \
    '.findings[] | select(.check == "tap-bridge-drift") | .fix | startswith("vlanwire reconcile")' "$LAB_DIR/doctor-drift.json"
check "drift: tap-bridge-drift names app1, its tap, br0 and br0v5" jq -e --arg tap "$apptap" \
    '.findings[] | select(.check == "tap-bridge-drift" and .guest == "app1" and .links == [$tap, "br0", "br0v5"])' \
    "$LAB_DIR/doctor-drift.json"
"$VLANWIRE" trace app1 --json >"$LAB_DIR/trace-drift.json"
check "drift: trace follows the tap where it is (br0) and says so" jq -e \
    '.nics[0] | .bridge == "br0" and any(.notes[]; test("but its policy puts it in br0v5"))' "$LAB_DIR/trace-drift.json"

run "$VLANWIRE" reconcile
doctor reconciled
check "after reconcile: doctor exits 0" test "$doctor_rc" -eq 0
check "after reconcile: no finding above info (got $(checks reconciled))" test "$(checks reconciled)" = "[]"

# libvirtd goes away: doctor says so (info) and still checks the kernel.
libvirt_stop
doctor nolibvirt
check "without libvirtd: doctor exits 0" test "$doctor_rc" -eq 0
check "without libvirtd: an info finding says libvirt is not reachable" jq -e \
    '.findings[] | select(.check == "guests" and .severity == "info" and (.message | test("libvirt is not reachable")))' \
    "$LAB_DIR/doctor-nolibvirt.json"

pass_note "doctor read running guests from libvirt: clean, then drift (exit 1) fixed by reconcile; libvirt gone is an info finding"
