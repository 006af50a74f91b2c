#!/bin/bash
# The seed's trouble fixed by vlanwire's classic layout (Examples/mixed): access bridges br0v5/br0v10 fed by legs on the trunk bridge (br0.5, br0.10), never on eth0; access and trunk guests on one uplink both work, isolated; release leaves br0 and eth0 as they were. (The broken half, eth0.5 on the uplink, is 01.)
# lab-timeout: 120
. "$LAB_LIB"
need_vlanwire
export VLANWIRE_STATE_DIR=$LAB_WORK/state
ex=$REPO/Examples/mixed                # uplink eth0 in br0, classic, VLANs 1 (native), 5, 10
apply() { run "$VLANWIRE" apply "$ex/$1.xml" --op "$2" --config "$ex/vlanwire.toml"; }
release() { run "$VLANWIRE" release "$ex/$1.xml" --config "$ex/vlanwire.toml"; }
tap() { run ip link set "$1" address "$2"; run ip link set "$1" master "$3"; }   # as libvirt: fe: MAC, in the XML's bridge

make_switch --native 1 5 10           # VLAN 1 untagged on the wire (10.1.0.254), 5 and 10 tagged
strict_arp switch
run ip link add br0 type bridge stp_state 0 forward_delay 0   # the admin's trunk bridge
defer ip link delete br0
run ip link set eth0 master br0
run ip link set br0 up
snapshot before

for g in app1 office1 router1; do apply $g prepare; done
make_access_guest app1 vnet3 5 1;                  tap vnet3 fe:54:00:00:02:01 br0v5   # source bridge br0v5
make_access_guest office1 vnet4 10 2;              tap vnet4 fe:54:00:00:02:02 br0     # source br0, metadata access 10
make_trunk_guest --native 1 router1 vnet5 3 5 10;  tap vnet5 fe:54:00:00:02:03 br0     # trunk 1,5,10 native 1
nsx app1 ip addr add 10.10.0.101/24 dev eth0;  nsx app1 ip addr add 10.1.0.101/24 dev eth0      # probes
nsx office1 ip addr add 10.5.0.102/24 dev eth0; nsx office1 ip addr add 10.1.0.102/24 dev eth0
for g in app1 office1 router1; do apply $g start; done
snapshot wired
draw status-mixed
draw trace-router1 --xml "$ex/router1.xml" --config "$ex/vlanwire.toml"

check_links wired \
    "no VLAN leg on the uplink eth0 (the seed's trouble)" '[LINKS[] | select(.linkinfo.info_kind == "vlan" and .link == "eth0")] | length == 0' \
    "br0.5 is the VLAN 5 leg on br0, port of br0v5" 'L("br0.5") | .link == "br0" and .linkinfo.info_data.id == 5 and .master == "br0v5"' \
    "br0.10 is the VLAN 10 leg on br0, port of br0v10" 'L("br0.10") | .link == "br0" and .linkinfo.info_data.id == 10 and .master == "br0v10"' \
    "office1's tap was moved into br0v10" 'L("vnet4").master == "br0v10"' \
    "app1's tap is in br0v5, router1's stays in br0" 'L("vnet3").master == "br0v5" and L("vnet5").master == "br0"'

expect_pings \
    "reach app1 10.5.0.254 access app1 -> VLAN 5 (br0v5 <- br0.5 <- br0 <- eth0)" \
    "reach office1 10.10.0.254 access office1 -> VLAN 10 (br0v10 <- br0.10)" \
    "reach router1 10.5.0.254 trunk router1 -> VLAN 5 tagged, beside the access guest" \
    "reach router1 10.10.0.254 trunk router1 -> VLAN 10 tagged, beside the access guest" \
    "reach router1 10.1.0.254 trunk router1 -> native VLAN 1 untagged" \
    "no app1 10.10.0.254 app1 must not reach VLAN 10" \
    "no app1 10.1.0.254 app1 must not reach VLAN 1" \
    "no office1 10.5.0.254 office1 must not reach VLAN 5" \
    "no office1 10.1.0.254 office1 must not reach VLAN 1"

# libvirt destroys the taps first; then the hook's release runs for each guest.
run destroy_guest app1 office1 router1
for g in app1 office1 router1; do release $g; done
snapshot after
check "after release: br0v5, br0v10, br0.5, br0.10 gone; br0 and eth0 exactly as before" same_links before after

pass_note "classic layout: legs on br0, not eth0; access (VLAN 5, 10) and trunk (1 native, 5, 10) guests work side by side, isolated"
