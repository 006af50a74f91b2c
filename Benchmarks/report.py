#!/usr/bin/env python3
"""Benchmarks/report.py RESULTS_DIR — the Markdown tables of one Benchmarks/run (results.jsonl, machine)."""
import json
import os
import sys


def fmt(ms):
    if ms is None:
        return "-"
    return "%.1f" % ms if ms >= 10 else "%.2f" % ms


def ratio(a, b):
    return "%.1fx" % (a / b) if a and b else "-"


def main():
    out = sys.argv[1]
    machine = {}
    with open(os.path.join(out, "machine")) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition(" ")
            machine[key] = value
    rows = [json.loads(line) for line in open(os.path.join(out, "results.jsonl")) if line.strip()]
    print("## vlanwire benchmarks, %s" % machine.get("date", "?"))
    print()
    print("Machine: %s, %s cores, kernel %s. Load average (1/5/15 min) at start %s, at end %s. Commit %s."
          % (machine.get("cpu"), machine.get("cores"), machine.get("kernel"), machine.get("load_start"),
             machine.get("load_end", "?"), machine.get("commit")))
    lab = [r for r in rows if r.get("where") == "lab"]
    if lab and lab[0].get("lab_kernel"):
        print("Lab: kernel %s under qemu TCG (software emulation, %s vCPUs): absolute lab times are several "
              "times slower than hardware; compare ratios only." % (lab[0]["lab_kernel"], lab[0].get("lab_cpus", "?")))
    print()

    hooks = [r for r in rows if r["bench"] == "hooks"]
    if hooks:
        names = []
        for r in hooks:
            for n in r["contenders"]:
                if n not in names:
                    names.append(n)
        others = [n for n in names if n != "vlanwire"]
        print("### Hook latency: process start to exit, median ms (prepare + start = what libvirt waits for)")
        print()
        header = (["where", "scene", "NICs", "op", "n"] + names + ["`ip link show`"] + ["%s / vlanwire" % n for n in others]
                  + ["vlanwire / `ip link show`", "vlanwire peak RSS"])
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in hooks:
            for op in ("prepare", "start", "total"):
                c = r["contenders"]
                vw = c.get("vlanwire", {}).get(op + "_ms")
                cells = [r.get("where", "host"), r["scene"], str(r["nics"]), "prepare+start" if op == "total" else op,
                         str(r["iterations"])]
                cells += [fmt(c[n][op + "_ms"]) if n in c else "-" for n in names]
                # One op is one process, as one `ip link show` is; prepare+start is two.
                floor = r.get("ip_link_show_ms")
                floor = floor * (2 if op == "total" else 1) if floor else None
                cells.append(fmt(floor))
                cells += [ratio(c[n][op + "_ms"], vw) if n in c else "-" for n in others]
                cells.append(ratio(vw, floor))
                cells.append("%.1f MiB" % (c["vlanwire"]["max_rss_kib"] / 1024) if op == "total" and "vlanwire" in c else "")
                print("| " + " | ".join(cells) + " |")
        print()
        print("Fastest `start` of the n runs (closest to an idle machine), ms: " + "; ".join(
            "%s %s %s NIC(s): %s" % (r.get("where", "host"), r["scene"], r["nics"], ", ".join(
                "%s %s" % (n, fmt(min(v["start_samples_ms"]))) for n, v in r["contenders"].items()))
            for r in hooks))
        print()
        print("`release` of a guest vlanwire never wired (libvirt runs it for every guest), median ms: " + "; ".join(
            "%s %s NIC(s): %s; `ip link show` %s" % (r.get("where", "host"), r["nics"], ", ".join(
                "%s %s (%s)" % (n, fmt(v["release_unknown_ms"]), ratio(v["release_unknown_ms"], r.get("ip_link_show_ms")))
                for n, v in r["contenders"].items() if v.get("release_unknown_ms")), fmt(r.get("ip_link_show_ms")))
            for r in hooks))
        print()
        print("Peak RSS (max over all runs, from wait4): " + "; ".join(
            "%s %s NIC(s) %s: %s" % (r.get("where", "host"), r["nics"], r["scene"], ", ".join(
                "%s %.1f MiB" % (n, v["max_rss_kib"] / 1024) for n, v in r["contenders"].items()))
            for r in hooks if r["nics"] == 4))
        print()

    for r in rows:
        if r["bench"] == "trunk-2-4094":
            print("### Trunk 2-4094 on one port (vlan-aware, %s): start hook, median of %d"
                  % (r.get("where", "host"), r["iterations"]))
            print()
            print("| contender | median ms | netlink messages sent (strace: sendto/sendmsg on NETLINK sockets) |")
            print("|---|---|---|")
            for n, v in r["contenders"].items():
                print("| %s | %s | %s |" % (n, fmt(v["start_ms"]), v["netlink_messages"]))
            print()
            print("vlanwire's executor (ExecutionReport.messagesSent via `vlanwire apply`): %s message(s) to change "
                  "the port; the rest of the hook's messages are the reads (link + bridge VLAN dumps, and the "
                  "tap check)." % r.get("vlanwire_executor_messages"))
            print()
        elif r["bench"] == "bulk-classic":
            print("### Classic mode, %d access bridges with their VLAN legs (%s): median of %d"
                  % (r["count"], r.get("where", "host"), r["iterations"]))
            print()
            print("| contender | median ms | netlink messages |")
            print("|---|---|---|")
            for n, v in r["contenders"].items():
                print("| %s | %s | %s |" % (n, fmt(v["ms"]), v["netlink_messages"]))
            vw, ipb = r["contenders"].get("vlanwire", {}).get("ms"), r["contenders"].get("ip -batch", {}).get("ms")
            print()
            print("vlanwire / ip -batch: %s" % ratio(vw, ipb))
            print()
        elif r["bench"] == "scale":
            print("### %d guests x %d NICs on one bridge (%s, bridge path): all guests wired one after another, "
                  "one hook process per guest; median of %d" % (r["guests"], r["nics"], r.get("where", "host"), r["iterations"]))
            print()
            print("| contender | total ms | per guest ms |")
            print("|---|---|---|")
            for n, v in r["contenders"].items():
                print("| %s | %s | %s |" % (n, fmt(v["ms"]), fmt(v["per_guest_ms"])))
            print()
        elif r["bench"] == "profile":
            print("### Profile: instructions of one 4-NIC hook start (callgrind; %s total)" % format(r["total_instructions"], ","))
            print()
            print("| phase | instructions | share |")
            print("|---|---|---|")
            for p in r["phases"]:
                print("| %s | %s | %.1f%% |" % (p["phase"], format(p["instructions"], ","), p["percent"]))
            print()


if __name__ == "__main__":
    main()
