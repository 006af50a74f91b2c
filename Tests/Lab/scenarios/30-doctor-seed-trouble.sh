#!/bin/bash
# doctor and trace on the seed's trouble: eth0 in br0 with a trunk guest, plus the seed's leftover
# eth0.5 on the uplink. doctor reports the stolen VLAN (exit 1), trace shows VLAN 5 dropped at eth0
# inbound but delivered outbound, frames agree; doctor's own fix (the leg on br0) makes it clean.
. "$LAB_LIB"
need_vlanwire
export VLANWIRE_STATE_DIR=$LAB_WORK/state

cfg=$LAB_WORK/vlanwire.toml
cat >"$cfg" <<'EOF'
[[uplink]]
interface = "eth0"
bridge = "br0"
mode = "classic"
vlans = "5,8"
EOF
xml=$LAB_WORK/router1.xml
cat >"$xml" <<'EOF'
<domain type='kvm'><name>router1</name>
  <metadata><vw:vlans xmlns:vw='urn:vlanwire:1'>
    <vw:interface mac='52:54:00:00:00:01'><vw:vlan trunk='yes' tags='5,8'/></vw:interface>
  </vw:vlans></metadata>
  <devices><interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/><target dev='vnet0'/></interface></devices>
</domain>
EOF

# doctor NAME: runs doctor (JSON into $LAB_DIR/doctor-NAME.json, table into .txt); sets doctor_rc.
doctor() {
    set +e
    "$VLANWIRE" doctor --no-libvirt --config "$cfg" --xml "$xml" >"$LAB_DIR/doctor-$1.txt"
    "$VLANWIRE" doctor --no-libvirt --config "$cfg" --xml "$xml" --json >"$LAB_DIR/doctor-$1.json"
    doctor_rc=$?
    set -e
    cat "$LAB_DIR/doctor-$1.txt"
}
above_info() { jq '[.findings[] | select(.severity != "info")] | length' "$LAB_DIR/doctor-$1.json"; }

make_switch 5 8                       # netns "switch": swp1.5 10.5.0.254, swp1.8 10.8.0.254
run ip link add br0 type bridge stp_state 0 forward_delay 0
defer ip link delete br0
run ip link set eth0 master br0
make_trunk_guest trunk vnet0 1 5 8    # netns "trunk": eth0.5 10.5.0.1, eth0.8 10.8.0.1
run ip link set vnet0 address fe:54:00:00:00:01   # the MAC libvirt gives router1's tap
run ip link set vnet0 master br0
run ip link set br0 up

expect_reach trunk 10.5.0.254 "trunk guest -> VLAN 5 (correct trunk layout)"
doctor trunk
check "doctor exits 0 on the trunk layout" test "$doctor_rc" -eq 0
check "doctor: no finding above info on the trunk layout" test "$(above_info trunk)" -eq 0

# The seed's leftover access-mode leg, on the uplink.
run ip link add link eth0 name eth0.5 type vlan id 5
defer ip link delete eth0.5
run ip link set eth0.5 up
expect_no_reach trunk 10.5.0.254 "trunk guest -> VLAN 5 (eth0.5 steals it)"
expect_reach trunk 10.8.0.254 "trunk guest -> VLAN 8 (unaffected)"
doctor broken
check "doctor exits 1 on the seed's trouble" test "$doctor_rc" -eq 1
check "doctor names eth0.5, eth0 and br0, as an error" jq -e \
    '.findings[] | select(.check == "vlan-leg-on-bridge-port" and .severity == "error" and .links == ["eth0.5","eth0","br0"])' \
    "$LAB_DIR/doctor-broken.json"
check "doctor says VLAN 5 is taken from br0" jq -e \
    '.findings[] | select(.check == "vlan-leg-on-bridge-port") | .message | test("takes every VLAN 5 frame arriving on eth0 before bridge br0 sees it")' \
    "$LAB_DIR/doctor-broken.json"

"$VLANWIRE" trace --xml "$xml" --config "$cfg" --vlan 5 | tee "$LAB_DIR/trace-broken.txt"
"$VLANWIRE" trace --xml "$xml" --config "$cfg" --vlan 5 --json >"$LAB_DIR/trace-broken.json"
check "trace: VLAN 5 inbound dropped at eth0, by eth0.5" jq -e \
    '.nics[0].flows[0].inbound | .droppedAt == "eth0" and (.hops[0].drop | test("^eth0.5 "))' "$LAB_DIR/trace-broken.json"
check "trace: VLAN 5 outbound delivered, tagged on eth0" jq -e \
    '.nics[0].flows[0].outbound | .droppedAt == null and .hops[-1].link == "eth0" and .hops[-1].frame == "tagged 5"' \
    "$LAB_DIR/trace-broken.json"
check "trace: capture command for eth0" jq -e \
    '.nics[0].flows[0].inbound.hops[0].capture == "tcpdump -i eth0 -e -n vlan 5"' "$LAB_DIR/trace-broken.json"

# Outbound really leaves: the switch sees the guest's VLAN 5 ARP requests while replies are stolen.
timeout 8 ip netns exec switch tcpdump -n -i swp1 -c 1 --immediate-mode -l 'vlan 5 and arp' \
    >"$LAB_WORK/swp1.txt" 2>"$LAB_WORK/tcpdump.err" &
tcpdump_pid=$!
for _ in $(seq 50); do grep -q 'listening on' "$LAB_WORK/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
ip netns exec trunk ping -c 2 -w 3 10.5.0.254 >/dev/null 2>&1 || true
wait "$tcpdump_pid" || true
cat "$LAB_WORK/swp1.txt"
check "the guest's VLAN 5 frames reach the switch (outbound works, as trace says)" test -s "$LAB_WORK/swp1.txt"

# Apply doctor's own fix, word for word.
fix=$(jq -r '.findings[] | select(.check == "vlan-leg-on-bridge-port") | .fix' "$LAB_DIR/doctor-broken.json")
lab_log "doctor's fix: $fix"
run bash -c "${fix#*: }"
defer ip link delete br0.5
expect_reach trunk 10.5.0.254 "trunk guest -> VLAN 5 after doctor's fix"
doctor fixed
check "doctor exits 0 after the fix" test "$doctor_rc" -eq 0
check "doctor: no finding above info after the fix" test "$(above_info fixed)" -eq 0
"$VLANWIRE" trace --xml "$xml" --config "$cfg" --vlan 5 --json >"$LAB_DIR/trace-fixed.json"
check "trace: VLAN 5 delivered both ways after the fix" jq -e \
    '.nics[0].flows[0] | .inbound.droppedAt == null and .outbound.droppedAt == null' "$LAB_DIR/trace-fixed.json"

pass_note "doctor found eth0.5 stealing VLAN 5 from br0 (exit 1), trace showed where, frames agreed; doctor's fix made it clean"
