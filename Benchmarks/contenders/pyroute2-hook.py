#!/usr/bin/env python3
"""Benchmarks/contenders/pyroute2-hook.py — a benchmark contender, not part of the product.

What vlanwire's qemu hook does for the benchmark's guests, written in Python over pyroute2 (netlink,
no ip/bridge processes) and the standard library's XML parser:
    pyroute2-hook.py GUEST OP SUBOP EXTRA   (the live domain XML on stdin)
Like vlanwire it reads the kernel with one link dump, takes a lock (flock) around reading and changing
the kernel, marks what it creates (alias "vlanwire"), sets port VLAN ranges in one message each, and
records the guest in a state file replaced atomically (fsync + rename).
It understands only what the benchmark feeds it: vlanwire metadata in attribute form, access bridges
named <trunk>v<vid>, trunks on classic bridges only when they cover 1-4094, fresh taps (VLAN 1 default).
Run it with the virtualenv's python (Benchmarks/run installs pyroute2 there).
"""
import fcntl
import json
import os
import sys
import xml.etree.ElementTree as ET

from pyroute2 import IPRoute

VW = "urn:vlanwire:1"


def fail(message):
    sys.stderr.write("vlanwire-pyroute2: " + message + "\n")
    sys.exit(1)


def in_tags(vid, tags):
    for item in tags.split(","):
        first, _, last = item.partition("-")
        if int(first) <= vid <= int(last or first):
            return True
    return False


def main():
    guest, op = sys.argv[1], sys.argv[2]
    if op not in ("prepare", "start", "started", "reconnect", "attach"):
        return 0
    ports_phase = op != "prepare"
    try:
        root = ET.fromstring(sys.stdin.buffer.read())
    except ET.ParseError as error:
        fail("%s: bad domain XML: %s" % (guest, error))
    metadata = {}
    for vlans in root.iterfind("metadata/{%s}vlans" % VW):
        for nic in vlans.iterfind("{%s}interface" % VW):
            vlan = nic.find("{%s}vlan" % VW)
            if vlan is not None:
                metadata[nic.get("mac", "").lower()] = vlan
    nics = []
    for element in root.iterfind("devices/interface"):
        if element.get("type") != "bridge" or element.find("virtualport") is not None or element.find("vlan") is not None:
            continue
        mac = element.find("mac")
        source = element.find("source")
        target = element.find("target")
        nics.append((mac.get("address").lower() if mac is not None else "",
                     source.get("bridge") if source is not None else None,
                     target.get("dev") if target is not None else None))
    if not nics:
        return 0

    state_dir = os.environ.get("BENCH_STATE_DIR", "/run/vlanwire-pyroute2-hook")
    os.makedirs(state_dir, exist_ok=True)
    lock = open(os.path.join(state_dir, "lock"), "a")
    fcntl.flock(lock, fcntl.LOCK_EX)

    ipr = IPRoute()
    links = {}
    for link in ipr.get_links():
        info = link.get_attr("IFLA_LINKINFO")
        kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
        filtering = 0
        if kind == "bridge":
            data = info.get_attr("IFLA_INFO_DATA")
            filtering = data.get_attr("IFLA_BR_VLAN_FILTERING") or 0 if data is not None else 0
        links[link.get_attr("IFLA_IFNAME")] = {
            "index": link["index"], "kind": kind, "master": link.get_attr("IFLA_MASTER"), "filtering": filtering}

    def index(name):
        if name not in links:
            links[name] = {"index": ipr.link_lookup(ifname=name)[0], "kind": None, "master": None, "filtering": 0}
        return links[name]["index"]

    created, taps, handled = [], [], set()
    for mac, bridge, tap in nics:
        vlan = metadata.get(mac)
        if vlan is not None:
            trunk_bridge = bridge
            kind = "trunk" if vlan.get("trunk") == "yes" else "access"
            tags, native = vlan.get("tags", ""), vlan.get("native")
            vid = int(tags) if kind == "access" else None
        else:
            if not bridge or "v" not in bridge[1:]:
                continue
            trunk_bridge, _, digits = bridge.rpartition("v")
            if not digits.isdigit() or links.get(trunk_bridge, {}).get("kind") != "bridge":
                continue
            kind, vid, tags, native = "access", int(digits), digits, None
        trunk_link = links.get(trunk_bridge)
        if trunk_link is None or trunk_link["kind"] != "bridge":
            fail("%s: NIC %s: bridge %s does not exist" % (guest, mac, trunk_bridge))
        vlan_aware = trunk_link["filtering"] == 1
        if vlan_aware:
            target = trunk_bridge
        elif kind == "access":
            access, leg = "%sv%d" % (trunk_bridge, vid), "%s.%d" % (trunk_bridge, vid)
            target = access
            if access not in handled:
                handled.add(access)
                if access not in links:
                    ipr.link("add", ifname=access, kind="bridge", br_stp_state=0, br_forward_delay=0)
                    ipr.link("set", index=index(access), ifalias="vlanwire")
                    created.append(access)
                if leg not in links:
                    ipr.link("add", ifname=leg, kind="vlan", link=trunk_link["index"], vlan_id=vid)
                    ipr.link("set", index=index(leg), ifalias="vlanwire")
                    ipr.link("set", index=index(leg), master=index(access))
                    ipr.link("set", index=index(access), state="up")
                    ipr.link("set", index=index(leg), state="up")
                    created.append(leg)
        else:
            if tags != "1-4094":
                fail("%s: NIC %s: trunk %s on classic bridge %s cannot be enforced (make it vlan-aware)"
                     % (guest, mac, tags, trunk_bridge))
            target = trunk_bridge
        if not ports_phase or not tap:
            continue
        if tap not in links:
            fail("%s: NIC %s: no tap %s" % (guest, mac, tap))
        tap_index = links[tap]["index"]
        if links[tap]["master"] != index(target):
            ipr.link("set", index=tap_index, master=index(target))
        taps.append(tap)
        if not vlan_aware:
            continue
        # vlan-aware: the port's VLANs, from the kernel default (VLAN 1 PVID untagged) of a fresh tap.
        if kind == "access":
            if vid != 1:
                ipr.vlan_filter("del", index=tap_index, vlan_info={"vid": 1})
            ipr.vlan_filter("add", index=tap_index, vlan_info={"vid": vid, "flags": ["pvid", "untagged"]})
        else:
            if native != "1" and not in_tags(1, tags):
                ipr.vlan_filter("del", index=tap_index, vlan_info={"vid": 1})
            for item in tags.split(","):
                ipr.vlan_filter("add", index=tap_index, vlan_info={"vid": item})
            if native:
                ipr.vlan_filter("add", index=tap_index, vlan_info={"vid": int(native), "flags": ["pvid", "untagged"]})
    ipr.close()

    path = os.path.join(state_dir, guest)
    temporary = path + ".tmp"
    with open(temporary, "w") as out:
        json.dump({"guest": guest, "op": op, "created": created, "taps": taps}, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
