#if canImport(Glibc)
    internal import Glibc
#endif

/// Finds out what the running kernel can do without creating or changing anything.
///
/// - 802.1Q: the module is loaded (`/proc/net/vlan`, `/sys/module/8021q`), or the running kernel's
///   `modules.builtin`/`modules.dep` list `8021q.ko` (the kernel loads it on the first VLAN link).
/// - Bridge VLAN filtering: the kernel reports IFLA_BR_VLAN_DEFAULT_PVID in a bridge's options only
///   when built with CONFIG_BRIDGE_VLAN_FILTERING, so any bridge in the dump settles it (the
///   handle checks that first). Without a bridge: the kernel's config file
///   (`/boot/config-RELEASE`), else its symbols (`br_vlan_filter_toggle` in `/proc/kallsyms`,
///   present only when the bridge code is loaded and built with VLAN filtering).
///   The sysfs file `bridge/vlan_filtering` is no proof: it is not always there, and the
///   IFLA_BR_VLAN_FILTERING flag is reported (as 0) even by kernels that refuse to set it.
enum CapabilityProbe {
    static func has8021Q() -> Bool {
        if access("/proc/net/vlan", F_OK) == 0 || access("/sys/module/8021q", F_OK) == 0 { return true }
        guard let release = kernelRelease() else { return false }
        let modules = "/lib/modules/" + release
        return anyLine(of: modules + "/modules.builtin") { $0.hasSuffix("/8021q.ko") }
            || anyLine(of: modules + "/modules.dep") { $0.contains("/8021q.ko") }
    }

    static func hasBridgeVLANFiltering() -> Bool {
        if let release = kernelRelease(), access("/boot/config-" + release, R_OK) == 0 {
            return anyLine(of: "/boot/config-" + release) { $0 == "CONFIG_BRIDGE_VLAN_FILTERING=y" }
        }
        return anyLine(of: "/proc/kallsyms") { $0.hasSuffix(" br_vlan_filter_toggle") || $0.contains(" br_vlan_filter_toggle\t") }
    }

    private static func kernelRelease() -> String? {
        var names = utsname()
        guard uname(&names) == 0 else { return nil }
        return withUnsafeBytes(of: &names.release) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Streams a text file line by line (kallsyms is megabytes); false when it cannot be read.
    private static func anyLine(of path: String, _ matches: (Substring) -> Bool) -> Bool {
        guard let file = fopen(path, "re") else { return false }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while true {
            let length = getline(&line, &capacity, file)
            guard length > 0, let line else { return false }
            let text = UnsafeRawBufferPointer(start: line, count: length)
            let string = String(decoding: text.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
            if matches(string[...]) { return true }
        }
    }
}
