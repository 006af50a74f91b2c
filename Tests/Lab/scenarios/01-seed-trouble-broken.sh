#!/bin/bash
# The seed's trouble, reproduced by hand (plain ip commands, no vlanwire): a trunk guest on a
# non-filtering bridge reaches every VLAN of the uplink, until someone creates eth0.5 on the
# uplink for an "access" layout — from then on VLAN 5 frames arriving on eth0 are taken by
# eth0.5 before the bridge sees them, and the trunk guest loses VLAN 5 (VLAN 8 still works).
# This is the broken layout vlanwire must never build (its legs hang off br0, not eth0).
. "$LAB_LIB"

make_switch 5 8                       # netns "switch": swp1.5 10.5.0.254, swp1.8 10.8.0.254
run ip link add br0 type bridge stp_state 0 forward_delay 0
defer ip link delete br0
run ip link set eth0 master br0
make_trunk_guest trunk vnet0 1 5 8    # netns "trunk": eth0.5 10.5.0.1, eth0.8 10.8.0.1
run ip link set vnet0 master br0
run ip link set br0 up

snapshot before
expect_reach trunk 10.5.0.254 "trunk guest -> switch, VLAN 5 (before eth0.5)"
expect_reach trunk 10.8.0.254 "trunk guest -> switch, VLAN 8 (before eth0.5)"
expect_reach trunk 192.0.2.254 "trunk guest -> switch, untagged"

# The seed's access-mode step, done on the uplink instead of the bridge:
run ip link add link eth0 name eth0.5 type vlan id 5
run ip link set eth0.5 up
snapshot after
snapshot_diff before after || true

# Capture on eth0.5 while the guest tries VLAN 5: the switch's tagged replies end up there.
timeout 8 tcpdump -n -i eth0.5 -c 1 --immediate-mode -l 'arp or icmp' >"$LAB_WORK/eth0.5.pcap.txt" 2>"$LAB_WORK/tcpdump.err" &
tcpdump_pid=$!
for _ in $(seq 50); do grep -q 'listening on' "$LAB_WORK/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
expect_no_reach trunk 10.5.0.254 "trunk guest -> switch, VLAN 5 (after eth0.5: stolen)"
wait "$tcpdump_pid" || true
cat "$LAB_WORK/eth0.5.pcap.txt"
if [[ -s $LAB_WORK/eth0.5.pcap.txt ]]; then ok "VLAN 5 frames from the switch arrive on eth0.5, not on br0"
else fail "tcpdump saw no VLAN 5 frame on eth0.5"; fi
expect_reach trunk 10.8.0.254 "trunk guest -> switch, VLAN 8 (after eth0.5: unaffected)"

pass_note "seed trouble reproduced: eth0.5 on the uplink takes VLAN 5 from the trunk guest; VLAN 8 unaffected"
