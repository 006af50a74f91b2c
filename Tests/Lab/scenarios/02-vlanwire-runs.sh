#!/bin/bash
# The host-built vlanwire binaries run inside the lab VM: every shared library they link resolves in
# the VM's root (the host's own, or a lab root such as Debian 13: scripts/lab --root trixie).
. "$LAB_LIB"
need_vlanwire

lab_log "root ${LAB_ROOT:-host}: $(. /etc/os-release && echo "$PRETTY_NAME"); $(ldd --version | head -n1)"
n=0
for bin in "$VLANWIRE" "$VLANWIRE-hook"; do
    [[ -x $bin ]] || { lab_log "no ${bin##*/} beside $VLANWIRE: not checked"; continue; }
    lab_log "binary: $bin"
    ldd "$bin" | tee "$LAB_DIR/ldd-${bin##*/}.txt"
    if grep -q 'not found' "$LAB_DIR/ldd-${bin##*/}.txt"; then
        fail "${bin##*/}: unresolved shared libraries: $(grep 'not found' "$LAB_DIR/ldd-${bin##*/}.txt" | awk '{print $1}' | tr '\n' ' ')"
    else
        ok "${bin##*/}: every shared library resolves ($(awk '/=>/ {print $1}' "$LAB_DIR/ldd-${bin##*/}.txt" | tr '\n' ' '))"
    fi
    n=$((n + 1))
done
check "vlanwire --help exits 0" "$VLANWIRE" --help
"$VLANWIRE" --help 2>&1 | head -n 20 || true
# libvirt is not linked but loaded with dlopen when a command needs it: the root's libvirt0 must load.
if [[ -e /usr/lib/x86_64-linux-gnu/libvirt.so.0 ]]; then
    check "libvirt0 is there for vlanwire's dlopen ($(readlink -f /usr/lib/x86_64-linux-gnu/libvirt.so.0 | xargs basename))" true
fi

pass_note "$n binaries run in the VM ($(. /etc/os-release && echo "$PRETTY_NAME"); $(grep -c '=>' "$LAB_DIR/ldd-${VLANWIRE##*/}.txt") shared libraries resolved)"
