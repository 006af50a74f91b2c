#!/bin/bash
# The host-built vlanwire binary runs inside the lab VM: its Swift runtime libraries resolve
# through the read-only view of the host root (/opt/swift/...).
. "$LAB_LIB"
need_vlanwire

lab_log "binary: $VLANWIRE"
ldd "$VLANWIRE" | tee "$LAB_WORK/ldd.txt"
if grep -q 'not found' "$LAB_WORK/ldd.txt"; then
    fail "unresolved shared libraries: $(grep 'not found' "$LAB_WORK/ldd.txt" | awk '{print $1}' | tr '\n' ' ')"
else
    ok "every shared library resolves"
fi
check "vlanwire --help exits 0" "$VLANWIRE" --help
"$VLANWIRE" --help 2>&1 | head -n 20 || true

pass_note "vlanwire runs in the VM ($(grep -c '=>' "$LAB_WORK/ldd.txt") shared libraries resolved)"
