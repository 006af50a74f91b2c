#!/bin/bash
# Real libvirtd inside the lab VM: a guest with a bridge NIC on br0 starts (paused, nested TCG),
# libvirt creates vnet0 in br0, and /etc/libvirt/hooks/qemu is called for prepare, start,
# started, stopped and release. (Writes under /etc stay in the VM's tmpfs overlay.)
# The vlanwire hook scenario builds on this.
# lab-timeout: 120
. "$LAB_LIB"

V=(virsh -c qemu:///system)
hooklog=$LAB_WORK/hook.log
: >"$hooklog"

# A capture hook: one line per call with its arguments; it also keeps the XML of each call.
mkdir -p /etc/libvirt/hooks
cat >/etc/libvirt/hooks/qemu <<HOOK
#!/bin/sh
n=\$(wc -l <"$hooklog")
cat >"$LAB_WORK/hook-\$n-\$2.xml"
echo "\$*" >>"$hooklog"
exit 0
HOOK
chmod 755 /etc/libvirt/hooks/qemu
defer rm -f /etc/libvirt/hooks/qemu

run ip link add br0 type bridge stp_state 0 forward_delay 0
defer ip link delete br0
run ip link set br0 up

libvirt_start            # hooks are found at libvirtd start: the hook must exist before
check "the default network is not active" bash -c "! ${V[*]} net-list --name | grep -q ."
check "no virbr0" bash -c "! ip link show virbr0 >/dev/null 2>&1"

cat >"$LAB_WORK/t1.xml" <<XML
<domain type='qemu'>
  <name>t1</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>$LAB_KERNEL</kernel></os>
  <devices>
    <interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/><model type='virtio'/></interface>
  </devices>
</domain>
XML
run "${V[@]}" define "$LAB_WORK/t1.xml"
defer "${V[*]} undefine t1 >/dev/null 2>&1"
t0=$(_lab_ms)
run "${V[@]}" start t1 --paused
lab_log "virsh start --paused took $(( $(_lab_ms) - t0 )) ms"
check "t1 is paused" bash -c "${V[*]} domstate t1 | grep -qx paused"
"${V[@]}" domiflist t1
check "vnet0 exists" ip link show vnet0
check "vnet0 is a port of br0" bash -c "ip -j link show vnet0 | grep -q '\"master\":\"br0\"'"
check "vnet0 carries the NIC's MAC (fe: prefix on the tap)" \
    bash -c "ip -j link show vnet0 | grep -q '\"address\":\"fe:54:00:00:00:01\"'"
snapshot running
run "${V[@]}" destroy t1
run "${V[@]}" undefine t1
check "vnet0 is gone after destroy" bash -c "! ip link show vnet0 >/dev/null 2>&1"

lab_log "hook calls:"; cat "$hooklog"
cp "$hooklog" "$LAB_DIR/hook.log"
for op in "prepare begin" "start begin" "started begin" "stopped end" "release end"; do
    check "hook called: t1 $op" grep -qx "t1 $op -" "$hooklog"
done
check "hook order prepare, start, started, stopped, release" \
    bash -c "[ \"\$(awk '{print \$2}' '$hooklog' | tr '\n' ' ')\" = 'prepare start started stopped release ' ]"
check "the hook got the domain XML on stdin (start)" grep -q "52:54:00:00:00:01" "$LAB_WORK"/hook-1-start.xml

pass_note "libvirtd in the lab: t1 started paused with vnet0 in br0; hook saw prepare start started stopped release"
