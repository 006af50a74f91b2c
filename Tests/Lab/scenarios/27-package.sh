#!/bin/bash
# The Debian package (LAB_DEB): dpkg -i installs the hook through postinst (vlanwire install-hook), libvirtd restarted as postinst says, a guest with an access policy starts through the INSTALLED hook (/usr/sbin/vlanwire) with its tap on VLAN 5 in br0; dpkg -r leaves it running and wired and keeps the state and config, and another guest still starts with the hook gone (libvirtd not restarted); purge removes /etc/vlanwire and /run/vlanwire and still touches no link.
# lab-timeout: 240
#
# The VM boots this machine's root read-only under a tmpfs overlay: dpkg -i changes only the VM's
# overlay, never the host. scripts/test passes the package scripts/package built (LAB_DEB);
# without one the scenario is pending. scripts/test runs it on the Debian 12 root and on the Debian 13
# one (scripts/lab --root trixie): the package built on 12, installed and wiring a guest on 13.
. "$LAB_LIB"
[[ -n ${LAB_DEB:-} && -f ${LAB_DEB:-} ]] ||
    pending "no Debian package (LAB_DEB=${LAB_DEB:-unset}; scripts/package builds one, scripts/test passes it)"

V=(virsh -c qemu:///system)
mac=52:54:00:00:27:01 tapmac=fe:54:00:00:27:01

make_switch --native 1 5 10
run ip link add br0 type bridge vlan_filtering 1 stp_state 0 forward_delay 0
defer ip link delete br0
run ip link set eth0 master br0
run ip link set br0 up

# Install as an admin would. man-db's trigger (mandb over every page) costs a minute under TCG:
# its switch is this file (the overlay forgets the removal at power-off).
rm -f /var/lib/man-db/auto-update
defer "dpkg --purge vlanwire >/dev/null 2>&1; rm -rf /etc/vlanwire /run/vlanwire /etc/libvirt/hooks/qemu /etc/libvirt/hooks/qemu.d"
t0=$(_lab_ms)
dpkg -i "$LAB_DEB" >"$LAB_DIR/dpkg-install.txt" 2>&1 || { cat "$LAB_DIR/dpkg-install.txt"; die "dpkg -i $LAB_DEB failed"; }
lab_log "dpkg -i in $(( $(_lab_ms) - t0 )) ms"
cat "$LAB_DIR/dpkg-install.txt"
check "dpkg: vlanwire installed" bash -c "dpkg-query -W -f='\${db:Status-Abbrev}' vlanwire | grep -qx 'ii '"
mkdir -p "$LAB_WORK/ref" && vlanwire install-hook --dir "$LAB_WORK/ref" --binary /usr/sbin/vlanwire >/dev/null
check "postinst installed /etc/libvirt/hooks/qemu as install-hook writes it for /usr/sbin/vlanwire" cmp /etc/libvirt/hooks/qemu "$LAB_WORK/ref/qemu"
lab_log "the hook: $(grep '^exec' /etc/libvirt/hooks/qemu)"
check "postinst says to restart libvirtd" grep -q 'systemctl restart libvirtd' "$LAB_DIR/dpkg-install.txt"

# The admin describes the uplink in the package's conffile.
cat >/etc/vlanwire/vlanwire.toml <<'TOML'
[[uplink]]
interface = "eth0"
bridge = "br0"
mode = "vlan-aware"
vlans = "1,5,10"
native-vlan = 1
TOML

# Restart libvirtd, as postinst says (libvirtd finds hooks when it starts).
rm -f /etc/libvirt/qemu/networks/autostart/*.xml
if libvirt_running; then
    libvirt_restart
    defer libvirt_release
else
    libvirt_start
fi

cat >"$LAB_WORK/pkg1.xml" <<XML
<domain type='qemu'>
  <name>pkg1</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <metadata><vw:vlans xmlns:vw='urn:vlanwire:1'><vw:interface mac='$mac'><vw:vlan tags='5'/></vw:interface></vw:vlans></metadata>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>$LAB_KERNEL</kernel></os>
  <devices><interface type='bridge'><mac address='$mac'/><source bridge='br0'/><model type='virtio'/></interface></devices>
</domain>
XML
run "${V[@]}" define "$LAB_WORK/pkg1.xml"
t0=$(_lab_ms)
"${V[@]}" start pkg1 --paused 2>&1 | tee "$LAB_DIR/start.txt"
lab_log "started pkg1 in $(( $(_lab_ms) - t0 )) ms"
check "pkg1 is running (paused)" bash -c "${V[*]} list --name | grep -qx pkg1"

T="(LINKS | map(select(.address == \"$tapmac\" and .linkinfo.info_kind == \"tun\")) | first)"
access5="$T.master == \"br0\" and ([VLANS($T.ifname)[] | (.vlan | tostring) + \":\" + ((.flags // []) | sort | join(\",\"))] == [\"5:Egress Untagged,PVID\"])"
snapshot started
check_links started "the installed hook put pkg1's tap in br0 on VLAN 5 (PVID, untagged), nothing else" "$access5"
check "the hook's state records pkg1" grep -q pkg1 /run/vlanwire/guests/pkg1.json

# Remove: the guest keeps running and wired, state and config stay, the hook goes.
dpkg -r vlanwire >"$LAB_DIR/dpkg-remove.txt" 2>&1 || { cat "$LAB_DIR/dpkg-remove.txt"; die "dpkg -r failed"; }
cat "$LAB_DIR/dpkg-remove.txt"
snapshot removed
check "after remove: pkg1 still running" bash -c "${V[*]} list --name | grep -qx pkg1"
check_links removed "after remove: pkg1's tap still in br0 on VLAN 5 only" "$access5"
check "after remove: links as before (nothing released or deleted)" same_links started removed
check "after remove: the hook is gone" test ! -e /etc/libvirt/hooks/qemu
check "after remove: /run/vlanwire/state.json kept" test -s /run/vlanwire/state.json
check "after remove: the admin's /etc/vlanwire/vlanwire.toml kept" grep -q 'interface = "eth0"' /etc/vlanwire/vlanwire.toml

# prerm removed the hook without restarting libvirtd: libvirtd, which found the hook at its start,
# must still start guests (it skips a hook file that is gone rather than failing the start).
sed -e 's/pkg1/pkg2/' -e "s/$mac/52:54:00:00:27:02/" -e '/<metadata>/d' "$LAB_WORK/pkg1.xml" >"$LAB_WORK/pkg2.xml"
run "${V[@]}" define "$LAB_WORK/pkg2.xml"
"${V[@]}" start pkg2 --paused >"$LAB_DIR/start-after-remove.txt" 2>&1 || true
cat "$LAB_DIR/start-after-remove.txt"
check "after remove: another guest starts with the hook gone and libvirtd not restarted" bash -c "${V[*]} list --name | grep -qx pkg2"
"${V[@]}" destroy pkg2 >/dev/null 2>&1 || true
"${V[@]}" undefine pkg2 >/dev/null 2>&1 || true

# Purge: config and state go; still no link touched.
dpkg --purge vlanwire >"$LAB_DIR/dpkg-purge.txt" 2>&1 || { cat "$LAB_DIR/dpkg-purge.txt"; die "dpkg --purge failed"; }
cat "$LAB_DIR/dpkg-purge.txt"
snapshot purged
check "after purge: /etc/vlanwire removed" test ! -e /etc/vlanwire
check "after purge: /run/vlanwire removed" test ! -e /run/vlanwire
check "after purge: pkg1 still running" bash -c "${V[*]} list --name | grep -qx pkg1"
check_links purged "after purge: pkg1's tap still on VLAN 5" "$access5"
check "after purge: links as before" same_links started purged
pass_note "installed from $(basename "$LAB_DEB"); guest wired by the installed hook; remove and purge left it running and wired"
