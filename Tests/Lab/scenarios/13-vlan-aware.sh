#!/bin/bash
# vlan-aware br0 (vlan_filtering) wired by vlanwire: an access port (VLAN 5 untagged), a trunk with an allowed set (5,10 tagged) and a native VLAN (1 untagged), and a native-tagged router (1 PVID without untagged, 10 tagged); VLAN 7, on the wire but outside the set, never reaches the trunk port (ping and tcpdump); the native-tagged router gets VLAN 1 tagged and reaches it only through its own VLAN 1 sub-interface, while its untagged frames still join VLAN 1 (ping and tcpdump); releasing a guest removes its port VLANs.
# lab-timeout: 180
. "$LAB_LIB"
need_vlanwire
export VLANWIRE_STATE_DIR=$LAB_WORK/state
cfg=$LAB_WORK/vlanwire.toml
cat >"$cfg" <<'TOML'
[[uplink]]
interface = "eth0"
bridge = "br0"
mode = "vlan-aware"
vlans = "1,5,7,10"
native-vlan = 1
TOML
guest() {   # NAME MAC VLAN-ATTRIBUTES
    cat >"$LAB_WORK/$1.xml" <<XML
<domain type='kvm'><name>$1</name>
  <metadata><vw:vlans xmlns:vw='urn:vlanwire:1'><vw:interface mac='$2'><vw:vlan $3/></vw:interface></vw:vlans></metadata>
  <devices><interface type='bridge'><mac address='$2'/><source bridge='br0'/></interface></devices>
</domain>
XML
}
guest acc1 52:54:00:00:04:01 "tags='5'"
guest trk1 52:54:00:00:04:02 "trunk='yes' tags='5,10' native='1'"
guest ntr1 52:54:00:00:04:03 "trunk='yes' tags='1,10' native='1' native-mode='tagged'"   # issue 17
vw() { run "$VLANWIRE" "$1" "$LAB_WORK/$2.xml" "${@:3}" --config "$cfg"; }
tap() { run ip link set "$1" address "$2"; run ip link set "$1" master "$3"; }   # as libvirt: fe: MAC, in the XML's bridge

make_switch --native 1 5 7 10          # wire: VLAN 1 untagged (10.1.0.254), 5, 7, 10 tagged
strict_arp switch
run ip link add br0 type bridge stp_state 0 forward_delay 0   # the admin's bridge; vlanwire turns filtering on
defer ip link delete br0
run ip link set eth0 master br0
run ip link set br0 up

vw apply acc1 --op prepare; vw apply trk1 --op prepare; vw apply ntr1 --op prepare
make_access_guest acc vnet0 5 1;                 tap vnet0 fe:54:00:00:04:01 br0
make_trunk_guest --native 1 trk vnet1 2 5 7 10;  tap vnet1 fe:54:00:00:04:02 br0   # terminates 7 too: would see it if it came
make_trunk_guest ntr vnet2 3 1 10;             tap vnet2 fe:54:00:00:04:03 br0   # eth0.1 10.1.0.3, eth0.10 10.10.0.3
for a in 10.7.0.101 10.10.0.101 10.1.0.101; do nsx acc ip addr add $a/24 dev eth0; done     # probes
strict_arp trk; strict_arp ntr
vw apply acc1 --op start; vw apply trk1 --op start; vw apply ntr1 --op start
snapshot wired
draw status-vlan-aware
check "the README's picture (docs/images/status-vlan-aware.dot) is what vlanwire draws now: else scripts/demo --readme" \
    cmp "$LAB_DIR/status-vlan-aware.dot" "$REPO/docs/images/status-vlan-aware.dot"
draw trace-trk1 --xml "$LAB_WORK/trk1.xml" --config "$cfg"
bridge -c vlan show | tee "$LAB_DIR/vlans-wired.txt"
# port VLANs as "VID:flags" (flags sorted, e.g. "5:Egress Untagged,PVID")
pv='[VLANS(@P)[] | (.vlan | tostring) + ":" + ((.flags // []) | sort | join(","))] | sort'
check_links wired \
    "br0 has vlan_filtering on" 'L("br0").linkinfo.info_data.vlan_filtering == 1' \
    "access port vnet0: VLAN 5 PVID untagged, nothing else" "${pv//@P/\"vnet0\"} == [\"5:Egress Untagged,PVID\"]" \
    "trunk port vnet1: 1 PVID untagged (native), 5 and 10 tagged, nothing else" \
        "${pv//@P/\"vnet1\"} == ([\"1:Egress Untagged,PVID\", \"5:\", \"10:\"] | sort)" \
    "native-tagged port vnet2: 1 PVID WITHOUT Egress Untagged, 10 tagged, nothing else" \
        "${pv//@P/\"vnet2\"} == ([\"1:PVID\", \"10:\"] | sort)" \
    "uplink eth0 carries 5, 7, 10 tagged and 1 native" "${pv//@P/\"eth0\"} | map(split(\":\")[0]) | sort == [\"1\",\"10\",\"5\",\"7\"]"

# VLAN 7 frames must never be sent to the trunk guest (-Q out: what vnet1 transmits towards it; the
# guest's own VLAN 7 attempts go the other way and are dropped at br0's ingress).
# (A bound, not the capture's length: they are stopped once the pings are done; under emulation,
# with another scenario beside it, the pings alone can take over 15 s.)
timeout 60 tcpdump -Q out -n -e -i vnet1 --immediate-mode -l 'vlan' >"$LAB_WORK/vnet1-tagged-out.txt" 2>"$LAB_WORK/tcpdump.err" &
tcpdump_pid=$!
# Everything vnet2 sends towards the native-tagged router, with link-level headers (802.1Q tags).
timeout 60 tcpdump -Q out -n -e -i vnet2 --immediate-mode -l >"$LAB_WORK/vnet2-out.txt" 2>"$LAB_WORK/tcpdump2.err" &
tcpdump2_pid=$!
for _ in $(seq 150); do grep -q 'listening on' "$LAB_WORK/tcpdump.err" 2>/dev/null && grep -q 'listening on' "$LAB_WORK/tcpdump2.err" 2>/dev/null && break; sleep 0.1; done
expect_pings \
    "reach acc 10.5.0.254 access acc1 -> VLAN 5 untagged" \
    "no acc 10.7.0.254 access acc1 must not reach VLAN 7" \
    "no acc 10.10.0.254 access acc1 must not reach VLAN 10" \
    "no acc 10.1.0.254 access acc1 must not reach VLAN 1 (native)" \
    "reach trk 10.5.0.254 trunk trk1 -> VLAN 5 tagged" \
    "reach trk 10.10.0.254 trunk trk1 -> VLAN 10 tagged" \
    "reach trk 10.1.0.254 trunk trk1 -> native VLAN 1 untagged" \
    "no trk 10.7.0.254 trunk trk1 -> VLAN 7 (outside its set) must not pass" \
    "no switch 10.7.0.2 switch -> trk1 on VLAN 7 must not pass" \
    "reach ntr 10.1.0.254 native-tagged ntr1 -> native VLAN 1 through its VLAN 1 sub-interface (eth0.1)" \
    "reach ntr 10.10.0.254 native-tagged ntr1 -> VLAN 10 tagged" \
    "reach switch 10.1.0.3 switch -> ntr1 on native VLAN 1 (arrives at its eth0.1)"
sleep 0.5; kill -INT "$tcpdump_pid" "$tcpdump2_pid" 2>/dev/null
wait "$tcpdump_pid" || true
wait "$tcpdump2_pid" || true
cp "$LAB_WORK/vnet2-out.txt" "$LAB_DIR/"
check "tcpdump -e on vnet2: frames from the switch's VLAN 1 address reach the native-tagged router" grep -q '10\.1\.0\.254' "$LAB_WORK/vnet2-out.txt"
check "tcpdump -e on vnet2: every one of them carries the 802.1Q tag of VLAN 1 (none untagged)" \
    bash -c "! grep '10\.1\.0\.254' '$LAB_WORK/vnet2-out.txt' | grep -qv 'vlan 1,'"

# The router's UNTAGGED frames still join VLAN 1 (the port's PVID): its plain eth0, with an address
# of VLAN 1's subnet, asks the switch for 10.1.0.254 and the switch sees that untagged on VLAN 1;
# the answer comes back tagged, to eth0.1, so eth0 itself never reaches VLAN 1 untagged.
# (`vlan` last in the filter: the keyword shifts the offsets of everything after it, even negated.)
ip netns exec switch timeout 60 tcpdump -n -e -i swp1 --immediate-mode -l 'src host 10.1.0.113 and not vlan' \
    >"$LAB_WORK/swp1-untagged-in.txt" 2>"$LAB_WORK/tcpdump3.err" &
tcpdump3_pid=$!
for _ in $(seq 150); do grep -q 'listening on' "$LAB_WORK/tcpdump3.err" 2>/dev/null && break; sleep 0.1; done
nsx ntr ip addr add 10.1.0.113/32 dev eth0
nsx ntr ip route add 10.1.0.254/32 dev eth0 src 10.1.0.113
if nsx ntr ping -n -q -c 2 -i 0.3 -w 3 -I eth0 10.1.0.254 >/dev/null 2>&1; then
    fail "expected NOT to reach: native-tagged ntr1's untagged eth0 -> VLAN 1 (replies must arrive tagged)"
else
    ok "does not reach: native-tagged ntr1's untagged eth0 -> VLAN 1 (the replies arrive tagged, at eth0.1)"
fi
sleep 0.5; kill -INT "$tcpdump3_pid" 2>/dev/null
wait "$tcpdump3_pid" || true
nsx ntr ip route del 10.1.0.254/32 dev eth0
nsx ntr ip addr del 10.1.0.113/32 dev eth0
cp "$LAB_WORK/swp1-untagged-in.txt" "$LAB_DIR/"
check "tcpdump on the switch: ntr1's untagged frames arrive on native VLAN 1 (untagged on the wire)" grep -q '10\.1\.0\.113' "$LAB_WORK/swp1-untagged-in.txt"
"$VLANWIRE" trace --xml "$LAB_WORK/ntr1.xml" --config "$cfg" --vlan 1 >"$LAB_DIR/trace-ntr1.txt" 2>&1
check "trace says VLAN 1 is ntr1's native VLAN, tagged towards the guest" grep -q 'VLAN 1 (native, tagged towards the guest)' "$LAB_DIR/trace-ntr1.txt"
check "trace: the guest sees VLAN 1 tagged" grep -q 'delivered: the guest sees it tagged 1' "$LAB_DIR/trace-ntr1.txt"
cp "$LAB_WORK/vnet1-tagged-out.txt" "$LAB_DIR/"
check "tcpdump on vnet1 works: it saw the tagged frames sent to the guest (VLAN 5 or 10)" grep -qE 'vlan (5|10),' "$LAB_WORK/vnet1-tagged-out.txt"
check "tcpdump on vnet1: no VLAN 7 frame sent to the trunk guest" bash -c "! grep -q 'vlan 7,' '$LAB_WORK/vnet1-tagged-out.txt'"

# Release while the stand-in taps still exist (a slow teardown): the guest's port VLANs go.
vw release trk1; vw release ntr1
snapshot released-trk1
check_links released-trk1 \
    "after releasing trk1: vnet1 has none of 1, 5, 10 any more" "${pv//@P/\"vnet1\"} == []" \
    "after releasing ntr1: vnet2 has none of 1, 10 any more" "${pv//@P/\"vnet2\"} == []" \
    "acc1's port is untouched" "${pv//@P/\"vnet0\"} == [\"5:Egress Untagged,PVID\"]"
expect_pings \
    "no trk 10.5.0.254 after release: trk1 no longer reaches VLAN 5" \
    "reach acc 10.5.0.254 after releasing trk1: acc1 still reaches VLAN 5"
vw release acc1
snapshot released
check_links released "after releasing acc1: vnet0 has no VLAN 5 any more" "${pv//@P/\"vnet0\"} == []"

pass_note "vlan-aware: access 5, trunk 5,10 + native 1, native-tagged 1 + 10 exact on the ports; VLAN 7 never reaches the trunk port (ping, tcpdump); VLAN 1 reaches the native-tagged router tagged only (ping via eth0.1, tcpdump -e), its untagged frames join VLAN 1; release removes port VLANs"
