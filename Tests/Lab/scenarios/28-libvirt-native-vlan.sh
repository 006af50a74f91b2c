#!/bin/bash
# libvirt's own <vlan> (libvirt >= 11, e.g. --root trixie) beside vlanwire, its drift on a vlan-aware bridge shown by status and repaired by reconcile (watch's repair), and export-native's <vlan> giving libvirt's tap exactly the port VLANs vlanwire gives: libvirt writes the taps' port VLANs itself and vlanwire's hook leaves them alone; doctor warns when the bridge has no vlan_filtering (the VLANs do nothing there: frames of other VLANs reach the guest) and when <vlan> and vlanwire metadata name one NIC; on a vlan-aware bridge, nothing to say. Pending on libvirt < 11, which refuses <vlan> on a Linux bridge.
# lab-timeout: 240
. "$LAB_LIB"
need_vlanwire

V=(virsh -c qemu:///system)
lv=$(libvirtd --version | awk '{print $NF}')
[[ ${lv%%.*} -ge 11 ]] ||
    pending "libvirt $lv refuses <vlan> on a Linux bridge (native support since 11.0): run it on a libvirt 11 root (scripts/lab --root trixie 28)"

cls=52:54:00:00:28:01     # <vlan> 5 on brc, a bridge without vlan_filtering
awr=52:54:00:00:28:02     # <vlan> 5 on bra, vlan-aware
both=52:54:00:00:28:03    # <vlan> 5 and vlanwire metadata (access 10), on bra

# brc: classic, eth0 in it; the switch sends VLANs 5 and 7 tagged. bra: vlan-aware, no uplink.
make_switch 5 7
strict_arp switch
run ip link add brc type bridge stp_state 0 forward_delay 0
defer ip link delete brc
run ip link set eth0 master brc
run ip link set brc up
run ip link add bra type bridge vlan_filtering 1 stp_state 0 forward_delay 0
defer ip link delete bra
run ip link set bra up

# No config: vlanwire infers from the kernel (and leaves <vlan> NICs to libvirt).
run "$VLANWIRE" install-hook --binary "$VLANWIRE"
defer rm -rf /etc/libvirt/hooks/qemu /etc/libvirt/hooks/qemu.d /run/vlanwire
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
nic() { echo "<interface type='bridge'><mac address='$1'/><source bridge='$2'/><vlan><tag id='5'/></vlan><model type='virtio'/></interface>"; }
guest_xml ncls "" "$(nic $cls brc)" >"$LAB_WORK/ncls.xml"
guest_xml nawr "" "$(nic $awr bra)" >"$LAB_WORK/nawr.xml"
guest_xml nboth "<vw:interface mac='$both'><vw:vlan tags='10'/></vw:interface>" "$(nic $both bra)" >"$LAB_WORK/nboth.xml"
pids=()
for g in ncls nawr nboth; do
    run "${V[@]}" define "$LAB_WORK/$g.xml"
    ( "${V[@]}" start "$g" --paused >"$LAB_DIR/start-$g.txt" 2>&1 ) & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
for g in ncls nawr nboth; do
    check "libvirt $lv starts $g (<vlan> on a Linux bridge)" bash -c "${V[*]} domstate $g | grep -q paused"
done
tap_of() { "${V[@]}" domiflist "$1" | awk -v m="$2" '$5 == m {print $1}'; }
tcls=$(tap_of ncls $cls) tawr=$(tap_of nawr $awr) tboth=$(tap_of nboth $both)
snapshot started
vl() { jq -c --arg t "$1" '[.[] | select(.ifname == $t) | .vlans[] | "\(.vlan):\(.flags // [] | sort | join(","))"] | sort' "$LAB_DIR/snap-started.vlans.json"; }
lab_log "port VLANs: $tcls $(vl "$tcls"), $tawr $(vl "$tawr"), $tboth $(vl "$tboth")"
check "libvirt wrote VLAN 5 (PVID, untagged) on $tawr (bra) and removed VLAN 1" test "$(vl "$tawr")" = '["5:Egress Untagged,PVID"]'
check "the hook left the <vlan> NIC with metadata to libvirt: $tboth has VLAN 5, not the metadata's 10" test "$(vl "$tboth")" = '["5:Egress Untagged,PVID"]'
check "brc has no vlan_filtering (libvirt neither checks nor enables it)" test "$(cat /sys/class/net/brc/bridge/vlan_filtering)" = 0

# Frames: the guest behind the classic bridge sees VLAN 7's tagged frames, <vlan> 5 or not. A stand-in
# for the paused guest: a veth in a namespace, enslaved to brc with the same port VLANs libvirt wrote.
make_trunk_guest g7 vnet77 1 7
run ip link set vnet77 master brc
run bridge vlan del dev vnet77 vid 1
run bridge vlan add dev vnet77 vid 5 pvid untagged
expect_reach g7 10.7.0.254 "a port on brc 'restricted' to VLAN 5 as libvirt restricts it still gets VLAN 7 (no vlan_filtering)"

"$VLANWIRE" doctor | tee "$LAB_DIR/doctor.txt" || true
"$VLANWIRE" doctor --json >"$LAB_DIR/doctor.json" || true
f() { jq -c --arg c "$1" --arg n "$2" '[.findings[] | select(.check == $c and .nic == $n)] | map(.severity)' "$LAB_DIR/doctor.json"; }
check "doctor warns: <vlan> on brc, which has no vlan_filtering (ncls)" test "$(f libvirt-vlan-without-filtering $cls)" = '["warning"]'
check "doctor: the warning names brc and the tap" \
    jq -e --arg n "$cls" --arg t "$tcls" '.findings[] | select(.check == "libvirt-vlan-without-filtering" and .nic == $n) | .links == ["brc", $t]' "$LAB_DIR/doctor.json"
check "doctor warns: <vlan> and vlanwire metadata on one NIC (nboth)" test "$(f libvirt-vlan-and-metadata $both)" = '["warning"]'
check "doctor: no filtering warning for bra's NICs (vlan-aware)" \
    jq -e '[.findings[] | select(.check == "libvirt-vlan-without-filtering" and .guest != "ncls")] | length == 0' "$LAB_DIR/doctor.json"
check "doctor: nothing at all about nawr (<vlan> on a vlan-aware bridge is libvirt's)" \
    jq -e '[.findings[] | select(.guest == "nawr")] | length == 0' "$LAB_DIR/doctor.json"

# Drift from libvirt's <vlan> on the vlan-aware bra: status names it with the policy's source, and
# reconcile (what watch runs for a drifted guest) puts VLAN 5 back.
run bridge vlan del dev "$tawr" vid 5
run bridge vlan add dev "$tawr" vid 7 pvid untagged
"$VLANWIRE" status --json >"$LAB_DIR/status-drift.json" || true
check "status: nawr's NIC drifted from its libvirt <vlan> (vlans-differ, policy access:5 from libvirt <vlan>)" \
    jq -e --arg m "$awr" '.libvirt.guests[] | select(.name == "nawr") | .nics[] | select(.mac == $m)
        | .policySource == "libvirt <vlan>" and .policy == "access:5" and ([.mismatches[].kind] | index("vlans-differ") != null)' \
    "$LAB_DIR/status-drift.json"
run "$VLANWIRE" reconcile nawr | tee "$LAB_DIR/reconcile-nawr.txt"
snapshot repaired
vr() { jq -c --arg t "$1" '[.[] | select(.ifname == $t) | .vlans[] | "\(.vlan):\(.flags // [] | sort | join(","))"] | sort' "$LAB_DIR/snap-repaired.vlans.json"; }
check "reconcile put nawr's port back to its <vlan>: VLAN 5 PVID untagged, 7 gone" test "$(vr "$tawr")" = '["5:Egress Untagged,PVID"]'

# export-native: a router wired by vlanwire (trunk 5,10 native 1 on bra), its policy printed as
# libvirt's <vlan>; a second guest defined with that <vlan> and no metadata gets the same port VLANs
# from libvirt itself.
exp=52:54:00:00:28:04 exp2=52:54:00:00:28:05
guest_xml nexp "<vw:interface mac='$exp'><vw:vlan trunk='yes' tags='5,10' native='1'/></vw:interface>" \
    "<interface type='bridge'><mac address='$exp'/><source bridge='bra'/><model type='virtio'/></interface>" >"$LAB_WORK/nexp.xml"
run "${V[@]}" define "$LAB_WORK/nexp.xml"
"$VLANWIRE" export-native nexp | tee "$LAB_DIR/export-native.txt" || true
vlan=$(sed -n '/^  <vlan/,/^  <\/vlan>/p' "$LAB_DIR/export-native.txt" | sed 's/^  //' | tr -d '\n')
check "export-native: nexp's NIC moves, as one <vlan trunk='yes'> with the native tag untagged" \
    grep -q "^guest nexp: 1 of 1 NIC(s) can move" "$LAB_DIR/export-native.txt"
guest_xml nexp2 "" "<interface type='bridge'><mac address='$exp2'/><source bridge='bra'/>$vlan<model type='virtio'/></interface>" >"$LAB_WORK/nexp2.xml"
run "${V[@]}" define "$LAB_WORK/nexp2.xml"
pids=()
for g in nexp nexp2; do ( "${V[@]}" start "$g" --paused >"$LAB_DIR/start-$g.txt" 2>&1 ) & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || true; done
snapshot exported
texp=$(tap_of nexp $exp) texp2=$(tap_of nexp2 $exp2)
ve() { jq -c --arg t "$1" '[.[] | select(.ifname == $t) | .vlans[] | "\(.vlan):\(.flags // [] | sort | join(","))"] | sort' "$LAB_DIR/snap-exported.vlans.json"; }
lab_log "port VLANs: vlanwire's $texp $(ve "$texp"), libvirt's from export-native $texp2 $(ve "$texp2")"
check "vlanwire wired nexp: 1 PVID untagged, 5 and 10 tagged" test "$(ve "$texp")" = '["10:","1:Egress Untagged,PVID","5:"]'
check "libvirt $lv, given export-native's <vlan>, writes the same port VLANs on nexp2" test "$(ve "$texp2")" = "$(ve "$texp")"

pass_note "libvirt $lv applies <vlan> on Linux bridges; doctor warns for brc (no vlan_filtering: VLAN 7 reached the port) and for <vlan> + metadata; silent for bra; drift from nawr's <vlan> shown by status, repaired by reconcile; export-native's <vlan> gives libvirt's tap the port VLANs vlanwire gave"
