#!/usr/bin/env python3
"""Benchmarks/harness.py — the measuring engine behind Benchmarks/run (python3, standard library only).

Runs INSIDE a throwaway network namespace (Benchmarks/run starts it with `ip netns exec NS`, the lab
scenario runs it in the lab VM's own namespaces) and never touches any other. It builds a scene
(bridges, an uplink veth, tap devices), then for every iteration and every contender, in rotating
order (A B C, B C A, C A B, ...): resets the scene to its baseline, spawns the contender's hook
with the domain XML on stdin (timed from posix_spawn to wait4, i.e. process start to exit, with the
child's peak RSS from wait4's rusage), and compares the resulting kernel state with the first
contender's (`ip -d -j link` + `bridge -j vlan`, normalised): a contender that does less fails the run.

    harness.py hooks --scene bridge|aware-access|aware-trunk|classic-access|classic-trunk
                     --nics N --iterations N --contender NAME=ARGV... --json OUT
    harness.py trunk   --contender ... --json OUT      (2-4094 trunk: time and netlink messages)
    harness.py bulk    --vlanwire BIN --count 500 --iterations N --json OUT   (classic, vs ip -batch)
    harness.py scale   --guests 200 --nics 4 --iterations N --contender ... --json OUT

Contender argv templates: {guest} {op} are substituted; the XML arrives on stdin. A contender named
`vlanwire` gets VLANWIRE_STATE_DIR, the others BENCH_STATE_DIR, each its own directory, emptied by
every reset.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

VW_NS = "urn:vlanwire:1"


# ----------------------------------------------------------------------------- running things

def sh(*commands, check=True):
    """Runs ip/bridge commands (not timed)."""
    for command in commands:
        result = subprocess.run(command, shell=isinstance(command, str), capture_output=True, text=True)
        if check and result.returncode != 0:
            raise SystemExit("harness: `%s` failed: %s" % (command, result.stderr.strip()))


def ip_batch(lines, tool="ip"):
    if not lines:
        return
    result = subprocess.run([tool, "-batch", "-"], input="\n".join(lines) + "\n", capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit("harness: %s -batch failed: %s" % (tool, result.stderr.strip()[:2000]))


def spawn_timed(argv, stdin_path, env, stderr_path):
    """posix_spawn + wait4: wall time in ns, exit status, peak RSS in KiB (the child and its children)."""
    stdin_fd = os.open(stdin_path, os.O_RDONLY) if stdin_path else os.open(os.devnull, os.O_RDONLY)
    err_fd = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null_fd = os.open(os.devnull, os.O_WRONLY)
    actions = [(os.POSIX_SPAWN_DUP2, stdin_fd, 0), (os.POSIX_SPAWN_DUP2, null_fd, 1), (os.POSIX_SPAWN_DUP2, err_fd, 2)]
    try:
        start = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.perf_counter_ns() - start
    finally:
        os.close(stdin_fd)
        os.close(err_fd)
        os.close(null_fd)
    return elapsed, os.waitstatus_to_exitcode(status), usage.ru_maxrss


# ----------------------------------------------------------------------------- kernel state

# Link fields that are state, not timing or identity noise (ifindex, carrier, timers, random MACs).
BRIDGE_KEYS = ("vlan_filtering", "stp_state", "forward_delay", "nf_call_iptables", "nf_call_ip6tables",
               "nf_call_arptables", "vlan_default_pvid")
VLAN_KEYS = ("protocol", "id")


def snapshot():
    links = json.loads(subprocess.run(["ip", "-d", "-j", "link", "show"], capture_output=True, text=True,
                                      check=True).stdout or "[]")
    vlans = json.loads(subprocess.run(["bridge", "-j", "vlan", "show"], capture_output=True, text=True,
                                      check=True).stdout or "[]")
    state = {}
    for link in links:
        info = link.get("linkinfo", {})
        kind = info.get("info_kind")
        entry = {
            "kind": kind,
            "master": link.get("master"),
            "up": "UP" in link.get("flags", []),
            "alias": link.get("ifalias"),
            "mtu": link.get("mtu"),
            "link": link.get("link"),
        }
        if kind == "tun":
            entry["address"] = link.get("address")
        data = info.get("info_data", {})
        if kind == "bridge":
            entry["bridge"] = {k: data.get(k) for k in BRIDGE_KEYS}
        elif kind == "vlan":
            entry["vlan"] = {k: data.get(k) for k in VLAN_KEYS}
        state[link["ifname"]] = entry
    for port in vlans:
        name = port.get("ifname")
        if name in state:
            state[name]["vlans"] = sorted(
                (v["vlan"], v.get("vlanEnd", v["vlan"]), sorted(v.get("flags", []))) for v in port.get("vlans", []))
    return state


def diff(a, b):
    lines = []
    for name in sorted(set(a) | set(b)):
        if a.get(name) != b.get(name):
            lines.append("  %s:\n    %s\n    %s" % (name, a.get(name), b.get(name)))
    return "\n".join(lines[:20])


# ----------------------------------------------------------------------------- domain XML

def mac_of(guest_number, nic):
    return "52:54:%02x:%02x:%02x:%02x" % ((guest_number >> 8) & 0xFF, guest_number & 0xFF, ((nic + 1) >> 8) & 0xFF,
                                          (nic + 1) & 0xFF)


def tap_mac(mac):
    return "fe" + mac[2:]


def domain_xml(name, guest_number, nics, live=True):
    """A live domain XML shaped like libvirt 9's (`virsh dumpxml` of a running guest), ~4 KiB for 4 NICs.
    `nics`: list of dicts with bridge, tap, metadata (None or a dict of <vw:vlan> attributes)."""
    metadata = "".join(
        '\n      <vw:interface mac="%s"><vw:vlan %s/></vw:interface>'
        % (mac_of(guest_number, i), " ".join('%s="%s"' % kv for kv in nic["metadata"].items()))
        for i, nic in enumerate(nics) if nic.get("metadata"))
    metadata_block = ('  <metadata>\n    <vw:vlans xmlns:vw="%s">%s\n    </vw:vlans>\n  </metadata>\n'
                      % (VW_NS, metadata)) if metadata else ""
    interfaces = ""
    for i, nic in enumerate(nics):
        target = "\n      <target dev='%s'/>" % nic["tap"] if live and nic.get("tap") else ""
        interfaces += """    <interface type='bridge'>
      <mac address='%s'/>
      <source bridge='%s'/>%s
      <model type='virtio'/>
      <alias name='net%d'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x%02x' function='0x0'/>
    </interface>
""" % (mac_of(guest_number, i), nic["bridge"], target, i, 3 + i)
    return """<domain type='kvm' id='%d'>
  <name>%s</name>
  <uuid>6c9d0d1e-7a11-4c57-9b9e-%012x</uuid>
%s  <memory unit='KiB'>2097152</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <resource>
    <partition>/machine</partition>
  </resource>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <cpu mode='host-passthrough' check='none' migratable='on'/>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
    <timer name='pit' tickpolicy='delay'/>
    <timer name='hpet' present='no'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='/var/lib/libvirt/images/%s.qcow2' index='1'/>
      <backingStore/>
      <target dev='vda' bus='virtio'/>
      <alias name='virtio-disk0'/>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
    </disk>
    <controller type='usb' index='0' model='qemu-xhci' ports='15'>
      <alias name='usb'/>
      <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>
    </controller>
    <controller type='pci' index='0' model='pcie-root'>
      <alias name='pcie.0'/>
    </controller>
%s    <serial type='pty'>
      <source path='/dev/pts/3'/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
      <alias name='serial0'/>
    </serial>
    <console type='pty' tty='/dev/pts/3'>
      <source path='/dev/pts/3'/>
      <target type='serial' port='0'/>
      <alias name='serial0'/>
    </console>
    <channel type='unix'>
      <source mode='bind' path='/run/libvirt/qemu/channel/1-%s/org.qemu.guest_agent.0'/>
      <target type='virtio' name='org.qemu.guest_agent.0' state='disconnected'/>
      <alias name='channel0'/>
      <address type='virtio-serial' controller='0' bus='0' port='1'/>
    </channel>
    <input type='mouse' bus='ps2'>
      <alias name='input0'/>
    </input>
    <input type='keyboard' bus='ps2'>
      <alias name='input1'/>
    </input>
    <graphics type='vnc' port='5900' autoport='yes' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
    <video>
      <model type='virtio' heads='1' primary='yes'/>
      <alias name='video0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </video>
    <memballoon model='virtio'>
      <alias name='balloon0'/>
      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>
    </memballoon>
  </devices>
  <seclabel type='dynamic' model='dac' relabel='yes'>
    <label>+64055:+64055</label>
    <imagelabel>+64055:+64055</imagelabel>
  </seclabel>
</domain>
""" % (guest_number, name, guest_number, metadata_block, name, interfaces, name)


# ----------------------------------------------------------------------------- scenes

def delete_created_links():
    """Deletes every br0v* and br0.* link at once: moved into one link group and deleted as a group,
    which the kernel unregisters in one batch (one `ip link del` each costs an RCU grace period:
    minutes for 1,000 links under the lab's emulation)."""
    links = json.loads(subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True, check=True).stdout)
    names = [link["ifname"].split("@")[0] for link in links]
    created = [n for n in names if n.startswith("br0v") or n.startswith("br0.")]
    if created:
        ip_batch(["link set %s group 4242" % n for n in created])
        sh(["ip", "link", "del", "group", "4242"])


class Scene:
    """br0 (the trunk bridge) with uplink eth0 (a veth whose peer stays unattached), a parking bridge
    brpark, and tap devices (kind tun, as libvirt's) carrying libvirt's tap MAC (fe:54:00:...).

    bridge / classic-trunk: br0 classic; every NIC has metadata trunk 1-4094 (what a bridge without
      vlan_filtering can enforce); taps wait in brpark, the hook moves them into br0.
    classic-access: br0 classic; NIC i's source bridge is br0v(10+i) (no metadata); prepare creates
      the access bridge and its leg br0.(10+i), start moves the tap from brpark into it.
    aware-access: br0 vlan_filtering 1; taps already in br0 with the kernel default (VLAN 1, as libvirt
      leaves them); metadata access VLAN 10+i.
    aware-trunk: as aware-access, metadata trunk 1,5,10-20 native 1 (a router).
    aware-trunk-2-4094: one NIC, metadata trunk 2-4094, no native VLAN.
    """

    def __init__(self, kind, guests, nics):
        self.kind = kind
        self.guests = guests
        self.nics = nics
        self.aware = kind.startswith("aware")

    def tap(self, g, i):
        return "vnet%d" % (g * self.nics + i)

    def nic_specs(self, g):
        specs = []
        for i in range(self.nics):
            tap = self.tap(g, i)
            if self.kind in ("bridge", "classic-trunk"):
                specs.append({"bridge": "br0", "tap": tap, "metadata": {"trunk": "yes", "tags": "1-4094"}})
            elif self.kind == "classic-access":
                specs.append({"bridge": "br0v%d" % (10 + i), "tap": tap, "metadata": None})
            elif self.kind == "aware-access":
                specs.append({"bridge": "br0", "tap": tap, "metadata": {"tags": str(10 + i)}})
            elif self.kind == "aware-trunk":
                specs.append({"bridge": "br0", "tap": tap, "metadata": {"trunk": "yes", "tags": "1,5,10-20", "native": "1"}})
            elif self.kind == "aware-trunk-2-4094":
                specs.append({"bridge": "br0", "tap": tap, "metadata": {"trunk": "yes", "tags": "2-4094"}})
            else:
                raise SystemExit("harness: unknown scene " + self.kind)
        return specs

    def setup(self, workdir):
        lines = ["link add eth0 type veth peer name eth0p",
                 "link add br0 type bridge stp_state 0 forward_delay 0"
                 + (" vlan_filtering 1" if self.aware else ""),
                 "link set eth0 master br0", "link set eth0 up", "link set eth0p up", "link set br0 up",
                 "link add brpark type bridge stp_state 0 forward_delay 0", "link set brpark up"]
        for g in range(self.guests):
            for i in range(self.nics):
                tap = self.tap(g, i)
                lines += ["tuntap add dev %s mode tap" % tap,
                          "link set %s address %s" % (tap, tap_mac(mac_of(g, i)))]
        ip_batch(lines)
        self.xml_paths = []
        for g in range(self.guests):
            path = os.path.join(workdir, "guest%d.xml" % g)
            with open(path, "w") as out:
                out.write(domain_xml("guest%d" % g, g, self.nic_specs(g)))
            self.xml_paths.append(path)
        self.reset()

    def reset(self):
        """Back to the baseline, the same way for every contender: links vlanwire-like hooks create are
        deleted, every tap goes back where libvirt would have it (vlan-aware: re-enslaved to br0,
        which resets its VLANs to the default; otherwise parked in brpark) and up."""
        delete_created_links()
        lines = []
        for g in range(self.guests):
            for i in range(self.nics):
                tap = self.tap(g, i)
                if self.aware:
                    lines += ["link set %s nomaster" % tap, "link set %s master br0" % tap]
                else:
                    lines.append("link set %s master brpark" % tap)
                lines.append("link set %s up" % tap)
        ip_batch(lines)


# ----------------------------------------------------------------------------- contenders

def state_root(workdir):
    """Where state directories go: a tmpfs, like production's /run (on this machine /tmp and /run are
    on ext4, where the state file's fsync costs ~0.3 ms that a real host does not pay)."""
    if os.path.isdir("/dev/shm"):
        root = os.path.join("/dev/shm", os.path.basename(workdir))
        os.makedirs(root, exist_ok=True)
        return root
    return workdir


class Contender:
    def __init__(self, spec, workdir):
        name, _, argv = spec.partition("=")
        self.name = name
        self.argv = argv.split("\x1f") if "\x1f" in argv else argv.split()
        self.state_dir = os.path.join(state_root(workdir), "state-" + name)
        self.env = dict(os.environ)
        self.env.pop("VLANWIRE_LOG", None)
        # Each contender its own state directory (vlanwire's builds read the first, the others the second).
        self.env["VLANWIRE_STATE_DIR"] = self.env["BENCH_STATE_DIR"] = self.state_dir
        self.stderr_path = os.path.join(workdir, "stderr-" + name)

    def clear_state(self):
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def run(self, guest, op, xml_path, expect_ok=True):
        argv = [a.replace("{guest}", guest).replace("{op}", op).replace("{xml}", xml_path) for a in self.argv]
        elapsed, code, rss = spawn_timed(argv, xml_path, self.env, self.stderr_path)
        if expect_ok and code != 0:
            with open(self.stderr_path) as err:
                raise SystemExit("harness: %s %s %s exited %d:\n%s" % (self.name, guest, op, code, err.read()[-3000:]))
        return elapsed, rss


def median_ms(values):
    return statistics.median(values) / 1e6 if values else None


# ----------------------------------------------------------------------------- benchmarks

def bench_hooks(args):
    workdir = tempfile.mkdtemp(prefix="vwbench-")
    scene = Scene(args.scene, 1, args.nics)
    scene.setup(workdir)
    contenders = [Contender(spec, workdir) for spec in args.contender]
    baseline = snapshot()
    reference = None
    samples = {c.name: {"prepare": [], "start": [], "total": [], "rss": [], "release_unknown": []} for c in contenders}
    # The floor: the cheapest netlink tool run there is, `ip link show`, timed the same way, in the
    # same rotation (what a hook cannot beat by much: one process start and one link dump).
    floor = []
    ip = shutil.which("ip")
    for iteration in range(args.iterations):
        shift = iteration % len(contenders)
        floor.append(spawn_timed([ip, "link", "show"], None, dict(os.environ), os.devnull)[0])
        for contender in contenders[shift:] + contenders[:shift]:
            scene.reset()
            for c in contenders:
                c.clear_state()
            t_prepare, rss1 = contender.run("guest0", "prepare", scene.xml_paths[0])
            t_start, rss2 = contender.run("guest0", "start", scene.xml_paths[0])
            if contender.name.startswith("vlanwire"):
                # libvirt runs stopped and release for every guest, wired or not: one it never wired.
                samples[contender.name]["release_unknown"].append(contender.run("unknown", "release", scene.xml_paths[0])[0])
            if iteration < args.check_iterations or iteration == args.iterations - 1:
                after = snapshot()
                if after == baseline:
                    raise SystemExit("harness: %s changed nothing in scene %s" % (contender.name, args.scene))
                if reference is None:
                    reference = (contender.name, after)
                elif after != reference[1]:
                    raise SystemExit("harness: scene %s: %s left a different kernel state than %s:\n%s"
                                     % (args.scene, contender.name, reference[0], diff(reference[1], after)))
            s = samples[contender.name]
            s["prepare"].append(t_prepare)
            s["start"].append(t_start)
            s["total"].append(t_prepare + t_start)
            s["rss"].append(max(rss1, rss2))
    scene.reset()
    result = {"bench": "hooks", "scene": args.scene, "nics": args.nics, "iterations": args.iterations,
              "ip_link_show_ms": median_ms(floor),
              "contenders": {name: {"prepare_ms": median_ms(s["prepare"]), "start_ms": median_ms(s["start"]),
                                    "total_ms": median_ms(s["total"]), "max_rss_kib": max(s["rss"]),
                                    "release_unknown_ms": median_ms(s["release_unknown"]),
                                    "start_samples_ms": [round(x / 1e6, 3) for x in s["start"]]}
                             for name, s in samples.items()}}
    emit(args, result)
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.rmtree(state_root(workdir), ignore_errors=True)


def strace_netlink_sends(argv, stdin_path, env):
    """Netlink messages a command sends: sendto/sendmsg calls on NETLINK sockets, counted by strace."""
    with tempfile.NamedTemporaryFile(prefix="vwbench-strace-", delete=False) as out:
        log = out.name
    with open(stdin_path or os.devnull) as stdin:
        code = subprocess.run(["strace", "-f", "-qq", "-yy", "-e", "trace=sendto,sendmsg,sendmmsg", "-o", log] + argv,
                              stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env).returncode
    with open(log) as f:
        lines = [line for line in f if "NETLINK" in line]
    os.unlink(log)
    return len(lines), code


def bench_trunk(args):
    """One tap, vlan-aware br0, trunk 2-4094 (no native): every contender's hook, plus plain iproute2."""
    workdir = tempfile.mkdtemp(prefix="vwbench-")
    scene = Scene("aware-trunk-2-4094", 1, 1)
    scene.setup(workdir)
    contenders = [Contender(spec, workdir) for spec in args.contender]
    iproute2 = [["bridge", "vlan", "del", "dev", "vnet0", "vid", "1"],
                ["bridge", "vlan", "add", "dev", "vnet0", "vid", "2-4094"]]
    baseline = snapshot()
    reference = None
    times = {c.name: [] for c in contenders}
    times["iproute2"] = []
    names = [c.name for c in contenders] + ["iproute2"]
    for iteration in range(args.iterations):
        shift = iteration % len(names)
        for name in names[shift:] + names[:shift]:
            scene.reset()
            for c in contenders:
                c.clear_state()
            if name == "iproute2":
                elapsed = 0
                for argv in iproute2:
                    t, code, _ = spawn_timed([shutil.which(argv[0])] + argv[1:], None, dict(os.environ), os.devnull)
                    if code != 0:
                        raise SystemExit("harness: %s failed" % " ".join(argv))
                    elapsed += t
            else:
                contender = next(c for c in contenders if c.name == name)
                elapsed, _ = contender.run("guest0", "start", scene.xml_paths[0])
            times[name].append(elapsed)
            if iteration == 0:
                after = snapshot()
                if reference is None:
                    reference = (name, after)
                elif after != reference[1] or after == baseline:
                    raise SystemExit("harness: trunk 2-4094: %s left a different kernel state than %s:\n%s"
                                     % (name, reference[0], diff(reference[1], after)))
    messages = {}
    for contender in contenders:
        scene.reset()
        contender.clear_state()
        argv = [a.replace("{guest}", "guest0").replace("{op}", "start") for a in contender.argv]
        messages[contender.name], code = strace_netlink_sends(argv, scene.xml_paths[0], contender.env)
    total = 0
    scene.reset()
    for argv in iproute2:
        count, _ = strace_netlink_sends([shutil.which(argv[0])] + argv[1:], None, dict(os.environ))
        total += count
    messages["iproute2"] = total
    # vlanwire's own count of the requests its executor sent (ExecutionReport.messagesSent), via apply.
    executor_messages = None
    if args.vlanwire:
        scene.reset()
        state = tempfile.mkdtemp(prefix="vwbench-apply-")
        env = dict(os.environ, VLANWIRE_STATE_DIR=state)
        out = subprocess.run([args.vlanwire, "apply", scene.xml_paths[0]], capture_output=True, text=True, env=env)
        shutil.rmtree(state, ignore_errors=True)
        for line in out.stdout.splitlines():
            if "netlink request" in line:
                executor_messages = int(line.strip().lstrip("(").split()[0])
    scene.reset()
    result = {"bench": "trunk-2-4094", "iterations": args.iterations,
              "contenders": {name: {"start_ms": median_ms(t), "netlink_messages": messages.get(name)}
                             for name, t in times.items()},
              "vlanwire_executor_messages": executor_messages}
    emit(args, result)
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.rmtree(state_root(workdir), ignore_errors=True)


def bench_bulk(args):
    """Classic mode: `count` access bridges br0v<vid> with their legs br0.<vid> hanging off the trunk
    bridge: `vlanwire apply --op prepare` of one domain with a NIC per VLAN vs one `ip -batch` file."""
    workdir = tempfile.mkdtemp(prefix="vwbench-")
    ip_batch(["link add eth0 type veth peer name eth0p", "link add br0 type bridge stp_state 0 forward_delay 0",
              "link set eth0 master br0", "link set eth0 up", "link set eth0p up", "link set br0 up"])
    vids = range(2, 2 + args.count)
    xml_path = os.path.join(workdir, "bulk.xml")
    with open(xml_path, "w") as out:
        out.write(domain_xml("bulk", 1, [{"bridge": "br0v%d" % v, "metadata": None} for v in vids], live=False))
    batch_path = os.path.join(workdir, "bulk.batch")
    with open(batch_path, "w") as out:
        for v in vids:
            out.write("link add br0v%d type bridge stp_state 0 forward_delay 0\nlink set br0v%d alias vlanwire\n"
                      "link add link br0 name br0.%d type vlan id %d\nlink set br0.%d alias vlanwire\n"
                      "link set br0.%d master br0v%d\nlink set br0v%d up\nlink set br0.%d up\n"
                      % (v, v, v, v, v, v, v, v, v))
    state = os.path.join(state_root(workdir), "state")
    contenders = {
        "vlanwire": ([args.vlanwire, "apply", xml_path, "--op", "prepare"], dict(os.environ, VLANWIRE_STATE_DIR=state)),
        "ip -batch": ([shutil.which("ip"), "-batch", batch_path], dict(os.environ)),
    }
    for spec in args.compare:  # other vlanwire builds (before/after a change)
        name, _, binary = spec.partition("=")
        contenders[name] = ([binary, "apply", xml_path, "--op", "prepare"],
                            dict(os.environ, VLANWIRE_STATE_DIR=os.path.join(state_root(workdir), "state-" + name)))

    def reset():
        shutil.rmtree(state, ignore_errors=True)
        for spec in args.compare:
            shutil.rmtree(os.path.join(state_root(workdir), "state-" + spec.partition("=")[0]), ignore_errors=True)
        delete_created_links()

    names = list(contenders)
    times = {n: [] for n in names}
    baseline = snapshot()
    reference = None
    for iteration in range(args.iterations):
        shift = iteration % len(names)
        for name in names[shift:] + names[:shift]:
            argv, env = contenders[name]
            elapsed, code, _ = spawn_timed(argv, None, env, os.path.join(workdir, "stderr"))
            if code != 0:
                raise SystemExit("harness: bulk: %s exited %d: %s" % (name, code, open(os.path.join(workdir, "stderr")).read()[-2000:]))
            times[name].append(elapsed)
            if iteration == 0:
                after = snapshot()
                if reference is None:
                    reference = (name, after)
                elif after != reference[1] or after == baseline:
                    raise SystemExit("harness: bulk: %s left a different kernel state than %s:\n%s"
                                     % (name, reference[0], diff(reference[1], after)))
            reset()
    messages = {}
    for name in names:
        argv, env = contenders[name]
        messages[name], _ = strace_netlink_sends(argv, None, env)
        reset()
    result = {"bench": "bulk-classic", "count": args.count, "iterations": args.iterations,
              "contenders": {n: {"ms": median_ms(t), "netlink_messages": messages[n]} for n, t in times.items()}}
    emit(args, result)
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.rmtree(state_root(workdir), ignore_errors=True)


def bench_scale(args):
    """`guests` guests x `nics` NICs on the bridge path: every contender wires every guest, one process
    per guest, guests in order; then the same end state with one `ip -batch`."""
    workdir = tempfile.mkdtemp(prefix="vwbench-")
    scene = Scene("bridge", args.guests, args.nics)
    scene.setup(workdir)
    contenders = [Contender(spec, workdir) for spec in args.contender]
    batch_path = os.path.join(workdir, "all.batch")
    with open(batch_path, "w") as out:
        for g in range(args.guests):
            for i in range(args.nics):
                out.write("link set %s master br0\n" % scene.tap(g, i))
    names = [c.name for c in contenders] + ["ip -batch"]
    times = {n: [] for n in names}
    baseline = snapshot()
    reference = None
    for iteration in range(args.iterations):
        shift = iteration % len(names)
        for name in names[shift:] + names[:shift]:
            scene.reset()
            for c in contenders:
                c.clear_state()
            start = time.perf_counter_ns()
            if name == "ip -batch":
                _, code, _ = spawn_timed([shutil.which("ip"), "-batch", batch_path], None, dict(os.environ), os.devnull)
                assert code == 0
            else:
                contender = next(c for c in contenders if c.name == name)
                for g in range(args.guests):
                    contender.run("guest%d" % g, "start", scene.xml_paths[g])
            times[name].append(time.perf_counter_ns() - start)
            if iteration == 0:
                after = snapshot()
                if reference is None:
                    reference = (name, after)
                elif after != reference[1] or after == baseline:
                    raise SystemExit("harness: scale: %s left a different kernel state than %s:\n%s"
                                     % (name, reference[0], diff(reference[1], after)))
    scene.reset()
    result = {"bench": "scale", "guests": args.guests, "nics": args.nics, "iterations": args.iterations,
              "contenders": {n: {"ms": median_ms(t), "per_guest_ms": median_ms(t) / args.guests} for n, t in times.items()}}
    emit(args, result)
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.rmtree(state_root(workdir), ignore_errors=True)


def emit(args, result):
    result["where"] = args.where
    if args.where == "lab":
        result["lab_kernel"] = os.uname().release
        result["lab_cpus"] = os.cpu_count()
    text = json.dumps(result)
    if args.json:
        with open(args.json, "a") as out:
            out.write(text + "\n")
    print(text, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench", choices=["hooks", "trunk", "bulk", "scale"])
    parser.add_argument("--scene", default="bridge")
    parser.add_argument("--nics", type=int, default=4)
    parser.add_argument("--guests", type=int, default=200)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--check-iterations", type=int, default=2,
                        help="compare kernel state after this many first iterations and the last one")
    parser.add_argument("--contender", action="append", default=[], help="NAME=ARGV (fields split on spaces)")
    parser.add_argument("--compare", action="append", default=[], help="bulk: NAME=BIN, another vlanwire build")
    parser.add_argument("--vlanwire", help="the vlanwire binary (trunk: apply's count; bulk)")
    parser.add_argument("--where", default="host", help="label for the report: host or lab")
    parser.add_argument("--netns", help="the throwaway namespace this runs in (checked)")
    parser.add_argument("--json", help="append the result as one JSON line to this file")
    args = parser.parse_args()
    # Only ever inside the throwaway namespace the runner made (and named): never the host's own.
    mine = os.stat("/proc/self/ns/net")
    try:
        named = os.stat("/run/netns/" + (args.netns or "-"))
    except OSError:
        named = None
    if named is None or (named.st_dev, named.st_ino) != (mine.st_dev, mine.st_ino):
        raise SystemExit("harness: not inside the network namespace named by --netns; refusing (use Benchmarks/run)")
    {"hooks": bench_hooks, "trunk": bench_trunk, "bulk": bench_bulk, "scale": bench_scale}[args.bench](args)


if __name__ == "__main__":
    main()
