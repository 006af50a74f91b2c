#!/bin/bash
# The seed's trunk mode wired by vlanwire (Examples/trunk-mode): a router guest on classic br0 sees VLANs 1 and 5 tagged — and VLAN 8 too, which has no sub-interface anywhere: a non-filtering bridge forwards every tag (the seed says it is dropped; the kernel disagrees). trace and doctor say so; a vlan-aware br0 does drop it.
# lab-timeout: 120
#
# The wire carries VLANs 1, 5 and 8 tagged and untagged frames. The router terminates 1, 5 and 8
# itself (eth0.N in its namespace). Asserted: what the kernel does (8 reaches the guest, tagged, seen
# by tcpdump on the tap), that `vlanwire trace --vlan 8` and `doctor` tell that truth, that vlanwire
# refuses a narrower trunk on a classic bridge, and that the same guest on a vlan-aware br0 gets only
# its VLANs.
. "$LAB_LIB"
need_vlanwire
export VLANWIRE_STATE_DIR=$LAB_WORK/state
ex=$REPO/Examples/trunk-mode
xml=$ex/router1.xml                    # trunk tags 1,5 on br0, MAC 52:54:00:00:01:01
cfg=$ex/vlanwire.toml                  # classic uplink eth0 in br0, vlans 1,5

make_switch 1 5 8
strict_arp switch
run ip link add br0 type bridge stp_state 0 forward_delay 0     # the admin's trunk bridge (seed: brctl addbr br0)
defer ip link delete br0
run ip link set eth0 master br0
run ip link set br0 up
snapshot before

run "$VLANWIRE" apply "$xml" --op prepare --config "$cfg"
make_trunk_guest router vnet0 1 1 5 8                           # eth0.1 10.1.0.1, eth0.5 10.5.0.1, eth0.8 10.8.0.1
run ip link set vnet0 address fe:54:00:00:01:01
run ip link set vnet0 master br0
run "$VLANWIRE" apply "$xml" --op start --config "$cfg"
draw status-trunk-mode

# VLAN 8 frames on the tap, tagged, while the router pings the switch on VLAN 8.
timeout 10 tcpdump -n -e -i vnet0 -c 1 --immediate-mode -l 'vlan 8 and (arp or icmp)' >"$LAB_WORK/vnet0-vlan8.txt" 2>"$LAB_WORK/tcpdump.err" &
tcpdump_pid=$!
for _ in $(seq 50); do grep -q 'listening on' "$LAB_WORK/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
expect_pings \
    "reach router 10.1.0.254 router -> VLAN 1, tagged (eth0.1 in the guest)" \
    "reach router 10.5.0.254 router -> VLAN 5, tagged (eth0.5 in the guest)" \
    "reach router 10.8.0.254 router -> VLAN 8: no sub-interface on br0 anywhere, still forwarded (classic bridge)" \
    "reach router 192.0.2.254 router -> the wire's untagged frames"
wait "$tcpdump_pid" || true
cat "$LAB_WORK/vnet0-vlan8.txt"; cp "$LAB_WORK/vnet0-vlan8.txt" "$LAB_DIR/"
check "tcpdump on vnet0 saw a frame tagged VLAN 8 (ethertype 802.1Q, vlan 8)" grep -q 'vlan 8' "$LAB_WORK/vnet0-vlan8.txt"

# trace tells the truth about VLAN 8 on this classic bridge.
"$VLANWIRE" trace --xml "$xml" --config "$cfg" --vlan 8 | tee "$LAB_DIR/trace-vlan8.txt"
"$VLANWIRE" trace --xml "$xml" --config "$cfg" --vlan 8 --json >"$LAB_DIR/trace-vlan8.json"
check "trace --vlan 8: delivered inbound (not dropped), like the frames" jq -e \
    '.nics[0].flows[0].inbound.droppedAt == null' "$LAB_DIR/trace-vlan8.json"
check "trace: note that br0 cannot filter (no vlan_filtering, forwards every VLAN)" jq -e \
    '[.nics[0].notes[] | select(test("no vlan_filtering: it forwards every VLAN"))] | length == 1' "$LAB_DIR/trace-vlan8.json"

# The config told the truth about the wire (1, 5 and 8): a trunk of 1,5 cannot be enforced here.
truecfg=$LAB_WORK/classic-158.toml
sed 's/^vlans = .*/vlans = "1,5,8"/' "$cfg" >"$truecfg"
"$VLANWIRE" doctor --no-libvirt --config "$truecfg" --xml "$xml" --json >"$LAB_DIR/doctor-classic.json" || true
if "$VLANWIRE" apply "$xml" --op prepare --config "$truecfg" >"$LAB_DIR/refused.txt" 2>&1; then refused_rc=0; else refused_rc=$?; fi
cat "$LAB_DIR/refused.txt"
check "doctor: trunk-on-classic-bridge says br0 forwards every VLAN, fix: vlan-aware" jq -e \
    '[.findings[] | select(.check == "trunk-on-classic-bridge" and (.message | test("forwards every VLAN")) and (.fix | test("vlan-aware")))] | length >= 1' \
    "$LAB_DIR/doctor-classic.json"
check "apply refuses trunk 1,5 on a classic bridge carrying 1,5,8 (exit 1)" test "$refused_rc" -eq 1
check "the refusal names the guest, the MAC and the fix (vlan-aware)" bash -c \
    "grep -q router1 '$LAB_DIR/refused.txt' && grep -qi '52:54:00:00:01:01' '$LAB_DIR/refused.txt' && grep -q 'vlan-aware' '$LAB_DIR/refused.txt'"

# A vlan-aware bridge can filter: the same guest, the same wire, mode = vlan-aware.
awarecfg=$LAB_WORK/aware.toml
sed 's/^mode = .*/mode = "vlan-aware"/; s/^vlans = .*/vlans = "1,5,8"/' "$cfg" >"$awarecfg"
run "$VLANWIRE" apply "$xml" --op start --config "$awarecfg"
bridge vlan show | tee "$LAB_DIR/vlans-aware.txt"
check "vlanwire turned vlan_filtering on" bash -c "ip -d -j link show br0 | jq -e '.[0].linkinfo.info_data.vlan_filtering == 1'"
expect_pings \
    "reach router 10.1.0.254 vlan-aware: router -> VLAN 1" \
    "reach router 10.5.0.254 vlan-aware: router -> VLAN 5" \
    "no router 10.8.0.254 vlan-aware: VLAN 8 is not in the trunk, br0 drops it"
"$VLANWIRE" trace --xml "$xml" --config "$awarecfg" --vlan 8 --json >"$LAB_DIR/trace-aware-vlan8.json"
check "trace on the vlan-aware bridge: VLAN 8 dropped at br0" jq -e \
    '.nics[0].flows[0].inbound.droppedAt == "br0"' "$LAB_DIR/trace-aware-vlan8.json"

pass_note "seed trunk mode: router sees 1 and 5 tagged; VLAN 8 (no sub-interface) is forwarded too by a classic bridge — trace/doctor say so; vlan-aware drops it"
