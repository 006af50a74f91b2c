#!/usr/bin/env python3
"""Benchmarks/profile.py — where one vlanwire hook run spends its instructions (callgrind).

`perf stat -e instructions` is not supported on this machine's virtual CPU, so the profile counts
instructions with valgrind's callgrind, which is repeatable run to run (unlike time). Runs inside the
throwaway namespace Benchmarks/run made: builds the 4-NIC bridge scene, runs `hook ... start` under
callgrind (on a copy of the binary without DWARF: valgrind 3.19 cannot read the toolchain's), and
splits the total into phases by the inclusive cost of the functions that make them.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# Phase -> regexes on (mangled) function names; a phase's cost is the largest inclusive cost among
# its matches (the outermost function), so nested or recursive entries are not added twice.
PHASES = [
    ("whole process", [r"^PROGRAM TOTALS$"]),
    ("main (everything after start-up)", [r"^vlanwire(_hook)?_main$"]),
    ("argument parsing (swift-argument-parser)", [r"ArgumentParser15ParsableCommandPAAE11parseAsRoot"]),
    ("reading stdin", [r"FileAccessO7readAll"]),
    ("config lookup", [r"loadConfig", r"10ConfigFileO4load"]),
    ("domain XML -> DomainDescription", [r"8VLANWire17DomainDescriptionV3xml9guestHint"]),
    ("  of which XML parsing", [r"8VLANWire17XMLDocumentParserO5parse"]),
    ("Wiring.apply (lock, netlink, plan, state)", [r"12VLANWireHost6WiringV5apply_9operation.*F$"]),
    ("  netlink: open socket", [r"15VLANWireNetlink0B6HandleC9namespace7timeout6logger"]),
    ("  netlink: snapshot (2 dumps, sysctls)", [r"15VLANWireNetlink0B6HandleC8snapshot"]),
    ("  planner", [r"8VLANWire7PlannerV4plan_9operation"]),
    ("  netlink: executor", [r"15VLANWireNetlink8ExecutorV5apply"]),
    ("  netlink: verify taps (1 request per tap)", [r"WiringV10verifyTaps"]),
    ("  state: load (JSON decode)", [r"StateStoreV4load", r"0A5StateV9stateJSONACSays5UInt8VG_tAA0D0O11DecodeErrorVYKcfC$"]),
    ("  state: save (JSON encode, fsync, rename)", [r"StateStoreV4save", r"StateStoreV11replaceFile", r"10FileAccessO7replace"]),
    ("  state: lock directory", [r"StateStoreV16prepareDirectory"]),
    ("logging (syslog)", [r"SyslogLogHandlerV3log"]),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--netns", required=True)
    parser.add_argument("--json")
    parser.add_argument("--out", default=tempfile.gettempdir())
    args = parser.parse_args()
    mine, named = os.stat("/proc/self/ns/net"), os.stat("/run/netns/" + args.netns)
    if (mine.st_dev, mine.st_ino) != (named.st_dev, named.st_ino):
        raise SystemExit("profile: not inside the namespace named by --netns; refusing")

    workdir = tempfile.mkdtemp(prefix="vwbench-prof-")
    scene = harness.Scene("bridge", 1, 4)
    scene.setup(workdir)
    stripped = os.path.join(workdir, "vlanwire")
    subprocess.run(["objcopy", "--strip-debug", args.binary, stripped], check=True)
    # vlanwire-hook takes libvirt's arguments as they are; vlanwire after `hook qemu`.
    entry = [] if "vlanwire-hook" in os.path.basename(args.binary) else ["hook", "qemu"]
    os.makedirs(args.out, exist_ok=True)
    out_file = os.path.join(args.out, "callgrind.out")
    env = dict(os.environ, VLANWIRE_STATE_DIR=os.path.join(workdir, "state"))
    with open(scene.xml_paths[0]) as stdin:
        subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out_file, stripped] + entry
                       + ["guest0", "start", "begin", "-"], stdin=stdin, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    annotated = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out_file],
                               capture_output=True, text=True, check=True).stdout
    with open(os.path.join(args.out, "callgrind-inclusive.txt"), "w") as f:
        f.write(annotated)
    costs = []
    for line in annotated.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)$", line)
        if not m:
            continue
        name = m.group(2)
        if name != "PROGRAM TOTALS":
            name = re.sub(r"^\S*?:", "", name.split(" [")[0], count=1)
        costs.append((int(m.group(1).replace(",", "")), name))
    total = next(c for c, n in costs if n == "PROGRAM TOTALS")
    phases = []
    for label, patterns in PHASES:
        best = max((c for c, n in costs if any(re.search(p, n) for p in patterns)), default=0)
        phases.append({"phase": label, "instructions": best, "percent": round(100.0 * best / total, 1)})
    main_cost = next(p["instructions"] for p in phases if p["phase"].startswith("main"))
    phases.insert(1, {"phase": "start-up before main (ld.so relocations, libraries, static init)",
                      "instructions": total - main_cost, "percent": round(100.0 * (total - main_cost) / total, 1)})
    scene.reset()
    result = {"bench": "profile", "binary": args.binary, "scene": "bridge", "nics": 4, "op": "start",
              "total_instructions": total, "phases": phases}
    text = json.dumps(result)
    if args.json:
        with open(args.json, "a") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
