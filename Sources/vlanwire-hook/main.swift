import VLANWireHost

#if canImport(Glibc)
    import Glibc
#endif

// libvirt's qemu hook and nothing else: `vlanwire-hook GUEST OP SUBOP EXTRA`, the domain XML on
// stdin (hooks/qemu execs it). Only the core, netlink and host modules: no Foundation, no argument
// parser, no templates, so it starts in a fraction of the CLI's time (BENCHMARKS.md).
exit(HookMain.run(libvirtArguments: Array(CommandLine.arguments.dropFirst())))
