#!/bin/bash
# The seed's access mode built by vlanwire (Examples/access-mode): eth0 -> eth0.1, eth0.5 -> br01, br05 from the guests' XML; each guest reaches only its VLAN, untagged; release deletes what vlanwire made, never eth0.
# lab-timeout: 120
#
# eth0 is in no bridge here, so the legs may hang off the uplink (the seed's own layout). Frames:
# each access guest reaches the switch on its own VLAN with an untagged eth0, and not the other
# VLAN nor the wire's untagged frames (probe addresses in those subnets; the switch answers ARP
# only on the interface that has the address, so a miss is a real isolation, not routing).
. "$LAB_LIB"
need_vlanwire
export VLANWIRE_STATE_DIR=$LAB_WORK/state
ex=$REPO/Examples/access-mode
apply() { run "$VLANWIRE" apply "$ex/$1.xml" --op "$2" --config "$ex/vlanwire.toml"; }
release() { run "$VLANWIRE" release "$ex/$1.xml" --config "$ex/vlanwire.toml"; }
tap() { run ip link set "$1" address "$2"; run ip link set "$1" master "$3"; }   # as libvirt: fe: MAC, in the XML's bridge

make_switch 1 5                       # swp1.1 10.1.0.254, swp1.5 10.5.0.254, swp1 192.0.2.254 untagged
strict_arp switch
snapshot before

# prepare: what libvirt needs before it can attach the taps (the bridges, fed by their legs).
apply app1 prepare
apply app2 prepare
snapshot prepared
check_links prepared \
    "eth0.1 is a VLAN 1 leg on eth0, port of br01" 'L("eth0.1") | .link == "eth0" and .linkinfo.info_data.id == 1 and .master == "br01"' \
    "eth0.5 is a VLAN 5 leg on eth0, port of br05" 'L("eth0.5") | .link == "eth0" and .linkinfo.info_data.id == 5 and .master == "br05"' \
    "br01 and br05 are bridges, up" '[L("br01"), L("br05")] | all(.linkinfo.info_kind == "bridge" and (.flags | index("UP")))' \
    "eth0 itself is in no bridge (access mode)" 'L("eth0").master == null' \
    "vlanwire marked what it created with its state's mark (alias vlanwire:$VLANWIRE_STATE_DIR: not the host's own state)" \
    '[L("eth0.1"), L("eth0.5"), L("br01"), L("br05")] | all(.ifalias == "vlanwire:'"$VLANWIRE_STATE_DIR"'")'

make_access_guest g1 vnet0 1 1;  tap vnet0 fe:54:00:00:00:01 br01   # app1: 10.1.0.1
make_access_guest g5 vnet1 5 2;  tap vnet1 fe:54:00:00:00:02 br05   # app2: 10.5.0.2
nsx g1 ip addr add 10.5.0.101/24 dev eth0;  nsx g1 ip addr add 192.0.2.101/24 dev eth0   # probes
nsx g5 ip addr add 10.1.0.102/24 dev eth0;  nsx g5 ip addr add 192.0.2.102/24 dev eth0
apply app1 start
apply app2 start
"$VLANWIRE" status --no-libvirt >"$LAB_DIR/status.txt" 2>&1 || true
draw status-access-mode

expect_pings \
    "reach g1 10.1.0.254 app1 (br01) -> VLAN 1, untagged at the guest" \
    "reach g5 10.5.0.254 app2 (br05) -> VLAN 5, untagged at the guest" \
    "no g1 10.5.0.254 app1 must not reach VLAN 5" \
    "no g1 192.0.2.254 app1 must not reach the wire's untagged frames" \
    "no g5 10.1.0.254 app2 must not reach VLAN 1" \
    "no g5 192.0.2.254 app2 must not reach the wire's untagged frames" \
    "no g1 10.1.0.102 app1 must not reach app2 (other access bridge)"

# libvirt destroys the taps before release; then release deletes what vlanwire created.
run destroy_guest g1 g5
release app1
snapshot released-app1
check_links released-app1 \
    "after releasing app1: br01 and eth0.1 gone" 'L("br01") == null and L("eth0.1") == null' \
    "after releasing app1: br05 and eth0.5 kept (app2 uses them)" 'L("br05") != null and L("eth0.5") != null'
release app2
snapshot after
check "after releasing both: the links are as before vlanwire ran" same_links before after

pass_note "seed access mode: vlanwire built eth0.1/eth0.5 -> br01/br05; each guest reaches only its VLAN, untagged; release restored the host"
