#!/bin/bash
# The lab's precondition: the VM's kernel has 802.1Q VLAN links and bridge vlan_filtering
# (the workplace's own kernel has neither).
. "$LAB_LIB"

lab_log "kernel $(uname -r)"
ns_add k0
ip -n k0 link add d0 type dummy 2>/dev/null || ip -n k0 link add d0 type veth peer name d1

check "802.1Q: a VLAN link can be created" ip -n k0 link add link d0 name d0.5 type vlan id 5
check "802.1Q: the VLAN link reports id 5" \
    bash -c "ip -n k0 -d -j link show d0.5 | grep -q '\"protocol\":\"802.1Q\",\"id\":5'"

check "bridge: vlan_filtering 1 is accepted" ip -n k0 link add br0 type bridge vlan_filtering 1
check "bridge: vlan_filtering reads back 1" \
    bash -c "[ \"\$(ip netns exec k0 cat /sys/class/net/br0/bridge/vlan_filtering)\" = 1 ]"
ip -n k0 link add p0 type veth peer name p1
ip -n k0 link set p0 master br0
check "bridge vlan add works (a range, tagged)" ip netns exec k0 bridge vlan add dev p0 vid 10-20
check "bridge vlan add works (pvid untagged)" ip netns exec k0 bridge vlan add dev p0 vid 5 pvid untagged
check "bridge vlan show lists VLAN 15 on the port" \
    bash -c "ip netns exec k0 bridge -j vlan show dev p0 | grep -q '\"vlan\":15[,}]'"
check "bridge vlan show: VLAN 5 is the port's PVID" \
    bash -c "ip netns exec k0 bridge -j vlan show dev p0 | grep -q '\"vlan\":5,\"flags\":\[\"PVID\"'"
ip netns exec k0 bridge vlan show dev p0
ip netns exec k0 bridge -j vlan show dev p0; echo

pass_note "802.1Q and bridge vlan_filtering work on $(uname -r)"
