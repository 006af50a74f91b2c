#!/bin/bash
# lab-timeout: 120
# doctor on layouts vlanwire built itself reports nothing above info: the classic mixed layout
# (Examples/mixed: access bridges fed by legs on br0, plus a trunk guest) and the vlan-aware one
# (Examples/vlan-aware); frames confirm each layout works. Then a tap given a VLAN by hand is
# port-VLAN drift (exit 1), and doctor's own fix makes it clean again.
. "$LAB_LIB"
need_vlanwire
export VLANWIRE_STATE_DIR=$LAB_WORK/state

# doctor NAME EXAMPLE: doctor with the example's config and guests; JSON into $LAB_DIR; sets doctor_rc.
doctor() {
    local ex=$REPO/Examples/$2 xmls=() f
    for f in "$ex"/*.xml; do xmls+=(--xml "$f"); done
    set +e
    "$VLANWIRE" doctor --no-libvirt --config "$ex/vlanwire.toml" "${xmls[@]}" | tee "$LAB_DIR/doctor-$1.txt"
    "$VLANWIRE" doctor --no-libvirt --config "$ex/vlanwire.toml" "${xmls[@]}" --json >"$LAB_DIR/doctor-$1.json"
    doctor_rc=$?
    set -e
}
above_info() { jq -c '[.findings[] | select(.severity != "info") | .check]' "$LAB_DIR/doctor-$1.json"; }
apply() { run "$VLANWIRE" apply "$REPO/Examples/$1/$2.xml" --op "$3" --config "$REPO/Examples/$1/vlanwire.toml"; }
# tap TAP MAC BRIDGE: the guest's tap as libvirt makes it (MAC fe:..., in the XML's bridge).
tap() { run ip link set "$1" address "$2"; run ip link set "$1" master "$3"; }

make_switch --native 1 5 7 8 10       # VLAN 1 untagged on the wire (10.1.0.254), 5 7 8 10 tagged

# --- classic: Examples/mixed (eth0 in br0; br0v5/br0v10 fed by br0.5/br0.10; router1 trunk on br0)
run ip link add br0 type bridge stp_state 0 forward_delay 0
run ip link set eth0 master br0
run ip link set br0 up
for g in app1 office1 router1; do apply mixed $g prepare; done
make_access_guest app1 vnet3 5 1;            tap vnet3 fe:54:00:00:02:01 br0v5
make_access_guest office1 vnet4 10 2;        tap vnet4 fe:54:00:00:02:02 br0
make_trunk_guest --native 1 router1 vnet5 3 5 10; tap vnet5 fe:54:00:00:02:03 br0
for g in app1 office1 router1; do apply mixed $g start; done
"$VLANWIRE" status || true

expect_reach app1 10.5.0.254 "classic: app1 -> VLAN 5 through br0v5/br0.5"
expect_reach office1 10.10.0.254 "classic: office1 -> VLAN 10 through br0v10/br0.10"
expect_reach router1 10.5.0.254 "classic: router1 -> VLAN 5 tagged, next to the access guest"
expect_reach router1 10.1.0.254 "classic: router1 -> native VLAN 1 untagged"
doctor classic mixed
check "classic: doctor exits 0" test "$doctor_rc" -eq 0
check "classic: no finding above info (got $(above_info classic))" test "$(above_info classic)" = "[]"
"$VLANWIRE" trace --xml "$REPO/Examples/mixed/office1.xml" --config "$REPO/Examples/mixed/vlanwire.toml" --json >"$LAB_DIR/trace-office1.json"
check "classic: trace of office1 delivers VLAN 10 both ways via br0.10" jq -e \
    '.nics[0].flows[0] | .vlan == "10" and .inbound.droppedAt == null and .outbound.droppedAt == null
     and ([.inbound.hops[].link] == ["eth0","br0","br0.10","br0v10","vnet4","guest"])' "$LAB_DIR/trace-office1.json"

# Tear the classic layout down (the runner would, but the vlan-aware part reuses the names).
run destroy_guest app1 office1 router1
run ip link delete br0v5
run ip link delete br0v10
run ip link delete br0                # its legs br0.5 and br0.10 go with it
rm -rf "$VLANWIRE_STATE_DIR"

# --- vlan-aware: Examples/vlan-aware (eth0 in br0 with vlan_filtering; port VLANs per NIC)
run ip link add br0 type bridge stp_state 0 forward_delay 0
defer ip link delete br0
run ip link set eth0 master br0
run ip link set br0 up
for g in app1 router1; do apply vlan-aware $g prepare; done
make_access_guest va1 vnet6 5 11;                  tap vnet6 fe:54:00:00:03:01 br0
make_trunk_guest --native 1 vr1 vnet7 12 5 10;     tap vnet7 fe:54:00:00:03:02 br0
make_trunk_guest --native 8 vr2 vnet8 13 7 8;      tap vnet8 fe:54:00:00:03:03 br0
for g in app1 router1; do apply vlan-aware $g start; done
bridge vlan show || true

expect_reach va1 10.5.0.254 "vlan-aware: app1 -> VLAN 5 untagged"
expect_reach vr1 10.10.0.254 "vlan-aware: router1 NIC 1 -> VLAN 10 tagged"
expect_reach vr1 10.1.0.254 "vlan-aware: router1 NIC 1 -> native VLAN 1 untagged"
expect_reach vr2 10.7.0.254 "vlan-aware: router1 NIC 2 -> VLAN 7 tagged"
expect_reach vr2 10.8.0.254 "vlan-aware: router1 NIC 2 -> VLAN 8 untagged at the guest, tagged on the wire"
doctor aware vlan-aware
check "vlan-aware: doctor exits 0" test "$doctor_rc" -eq 0
check "vlan-aware: no finding above info (got $(above_info aware))" test "$(above_info aware)" = "[]"

# Someone gives app1's tap VLAN 7 by hand: drift, and trace shows VLAN 7 now reaching it.
run bridge vlan add dev vnet6 vid 7
doctor drift vlan-aware
check "drift: doctor exits 1" test "$doctor_rc" -eq 1
check "drift: port-vlan-drift on vnet6 for guest app1" jq -e \
    '.findings[] | select(.check == "port-vlan-drift" and .guest == "app1" and .links[0] == "vnet6")' "$LAB_DIR/doctor-drift.json"
"$VLANWIRE" trace --xml "$REPO/Examples/vlan-aware/app1.xml" --config "$REPO/Examples/vlan-aware/vlanwire.toml" --vlan 7 --json >"$LAB_DIR/trace-drift.json"
check "drift: trace delivers VLAN 7 to vnet6, tagged" jq -e \
    '.nics[0].flows[0].inbound | .droppedAt == null and .hops[-1].frame == "tagged 7"' "$LAB_DIR/trace-drift.json"
fix=$(jq -r '.findings[] | select(.check == "port-vlan-drift") | .fix' "$LAB_DIR/doctor-drift.json")
lab_log "doctor's fix: $fix"
run bash -c "$fix"
doctor fixed vlan-aware
check "drift fixed: doctor exits 0" test "$doctor_rc" -eq 0
"$VLANWIRE" trace --xml "$REPO/Examples/vlan-aware/app1.xml" --config "$REPO/Examples/vlan-aware/vlanwire.toml" --vlan 7 --json >"$LAB_DIR/trace-fixed.json"
check "drift fixed: trace drops VLAN 7 at br0 (vnet6 not a member)" jq -e \
    '.nics[0].flows[0].inbound.droppedAt == "br0"' "$LAB_DIR/trace-fixed.json"
expect_reach va1 10.5.0.254 "vlan-aware: app1 -> VLAN 5 after the fix"

pass_note "doctor: nothing above info on vlanwire-built classic (mixed) and vlan-aware layouts; drift found and fixed by its own fix"
