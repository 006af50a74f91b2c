internal import CNetlink
internal import CNetlinkShims
public import Logging
public import VLANWire

#if canImport(Glibc)
    internal import Glibc
#endif

/// Links, bridges, VLAN legs and port VLANs of ONE network namespace, over one netlink socket.
///
/// Every operation is one iproute2 command's worth (see each "Equivalent to"). Not thread-safe:
/// use one handle from one task at a time. Every wait for the kernel is bounded by `timeout`.
public final class NetlinkHandle {
    public let namespace: NetworkNamespace
    public let timeout: Duration
    private let namespaceFile: NamespaceFile
    private let logger: Logger
    private var socket: NetlinkSocket
    /// Requests sent through this handle so far (dumps and lookups included): the cost measure.
    public private(set) var messagesSent = 0
    /// Index by name, from the last link dump and from links this handle created. An index can only
    /// go stale by its link being deleted; a request to a stale index fails with ENODEV and is
    /// retried once after a fresh lookup.
    private var knownIndexes: [String: Int32] = [:]
    /// Whether the last link dump's bridges report VLAN options (nil: no bridge in it).
    private var lastBridgeVLANFiltering: Bool?
    /// Test seam (see `FaultInjection.failRequest`): when `messagesSent` reaches this number, the
    /// next request fails with EIO instead of being sent. Fires once.
    var failingRequestNumber: Int?

    /// Opens a netlink socket in `namespace`. The calling thread enters the namespace only while
    /// the socket is created.
    public init(namespace: NetworkNamespace = .current, timeout: Duration = .seconds(5), logger: Logger) throws(NetlinkError) {
        self.namespace = namespace
        self.timeout = timeout
        self.logger = logger
        namespaceFile = try NamespaceFile(namespace)
        socket = try NetlinkSocket(in: namespaceFile, timeout: timeout)
    }

    // MARK: Reading

    /// Every link with its bridge, port, VLAN leg and port VLAN details: two dumps.
    ///
    /// Equivalent to: `ip -d link show` and `bridge vlan show`.
    public func links() throws(NetlinkError) -> [ObservedLink] {
        try readLinks()
    }

    /// The complete kernel state vlanwire plans against. With `probingCapabilities: false` its
    /// `capabilities` stay nil (unknown): the probe can read files of megabytes (see
    /// `CapabilityProbe`), and a hook call that creates no VLAN leg and turns on no filtering
    /// does not need it (`probedCapabilities()` fills it in when a plan does).
    ///
    /// Equivalent to: `ip -d link show`, `bridge vlan show`, `sysctl net.bridge`.
    public func snapshot(probingCapabilities: Bool = true) throws(NetlinkError) -> ObservedState {
        let links = try readLinks()
        return ObservedState(
            complete: true, links: links,
            capabilities: probingCapabilities ? probedCapabilities() : nil,
            bridgeNetfilter: try bridgeNetfilterSysctls())
    }

    /// What this kernel can do, seen from this namespace without changing anything.
    /// See `CapabilityProbe` for how.
    public func capabilities() throws(NetlinkError) -> KernelCapabilities {
        _ = try readLinks()
        return probedCapabilities()
    }

    /// The capabilities, using what the last link dump showed (a bridge settles VLAN filtering).
    public func probedCapabilities() -> KernelCapabilities {
        KernelCapabilities(
            vlan8021Q: CapabilityProbe.has8021Q(),
            bridgeVLANFiltering: lastBridgeVLANFiltering ?? CapabilityProbe.hasBridgeVLANFiltering())
    }

    /// The index of `link`, from the last dump or by asking the kernel.
    ///
    /// Equivalent to: `ip link show NAME`.
    public func index(of link: LinkName) throws(NetlinkError) -> Int32 {
        if let known = knownIndexes[link.rawValue] { return known }
        return try lookUpIndex(link)
    }

    /// Where a link sits: its index and its master's.
    public struct Membership: Equatable, Sendable {
        public var index: Int32
        public var masterIndex: Int32?
    }

    /// One link's index and master, asked of the kernel by name: one request however many links the
    /// namespace has (a dump of 800 taps costs 13 M instructions). Nil when there is no such link.
    ///
    /// Equivalent to: `ip link show NAME`.
    public func membership(of link: LinkName) throws(NetlinkError) -> Membership? {
        let context = RequestContext(operation: "look at link \(link)", links: [link.rawValue])
        var found: Membership?
        do {
            try request(LinkRequest.get(link, context), context) { header in
                if let parsed = LinkParser.link(header), parsed.name == link.rawValue {
                    found = Membership(index: parsed.index, masterIndex: parsed.masterIndex)
                }
            }
        } catch  where error.errno == ENODEV {
            return nil
        }
        if let found { knownIndexes[link.rawValue] = found.index }
        return found
    }

    /// A dump the kernel marks NLM_F_DUMP_INTR (links added or removed while it was being sent:
    /// other hooks run concurrently) is inconsistent; libnl reports NLE_DUMP_INTR and it is read
    /// again, a bounded number of times.
    static let dumpAttempts = 20

    private func readLinks() throws(NetlinkError) -> [ObservedLink] {
        var attempt = 1
        while true {
            do {
                return try readLinksOnce()
            } catch  where error.isDumpInterrupted && attempt < Self.dumpAttempts {
                logger.debug("link dump interrupted by a concurrent change; reading again", metadata: ["attempt": "\(attempt)"])
                attempt += 1
            }
        }
    }

    private func readLinksOnce() throws(NetlinkError) -> [ObservedLink] {
        var parsed: [ParsedLink] = []
        var malformed = 0
        let context = RequestContext(operation: "list links in \(namespace)", links: [])
        try dump(LinkRequest.dump(family: AF_UNSPEC, filter: UInt32(RTEXT_FILTER_SKIP_STATS), context), context) { header in
            if let link = LinkParser.link(header) { parsed.append(link) } else { malformed += 1 }
        }
        let vlanSupport = parsed.first { $0.bridge != nil }.map {
            $0.bridge!.present & CNETLINK_BRIDGE_VLAN_DEFAULT_PVID.rawValue != 0
        }
        var portVLANs: [Int32: [cnetlink_vlan_range]] = [:]
        if vlanSupport == true {
            let vlanContext = RequestContext(operation: "list bridge port VLANs in \(namespace)", links: [])
            try dump(
                LinkRequest.dump(family: AF_BRIDGE, filter: UInt32(RTEXT_FILTER_BRVLAN_COMPRESSED), vlanContext),
                vlanContext
            ) { header in
                if let entry = LinkParser.bridgeVLANs(header) { portVLANs[entry.index] = entry.ranges } else { malformed += 1 }
            }
        }
        guard malformed == 0 else {
            throw NetlinkError(
                .libnl(NLE_PARSE_ERR), operation: context.operation, links: [],
                kernelMessage: "\(malformed) link message(s) could not be read")
        }
        let names = Dictionary(parsed.map { ($0.index, $0.name) }, uniquingKeysWith: { first, _ in first })
        let bridges = Set(parsed.filter { $0.kind == "bridge" }.map(\.index))
        knownIndexes = Dictionary(parsed.map { ($0.name, $0.index) }, uniquingKeysWith: { first, _ in first })
        let links = parsed.map { link in
            observed(
                link, names: names, bridges: bridges,
                // A port without AF_SPEC has no VLANs, on kernels that report VLANs at all.
                vlans: vlanSupport == true ? portVLANs[link.index] ?? [] : nil)
        }
        lastBridgeVLANFiltering = vlanSupport
        return links
    }

    private func observed(
        _ link: ParsedLink, names: [Int32: String], bridges: Set<Int32>,
        vlans: [cnetlink_vlan_range]?
    ) -> ObservedLink {
        // A lower device in another namespace has no name here; iproute2 prints it the same way.
        func name(_ index: Int32) -> String { names[index] ?? "if\(index)" }
        var result = ObservedLink(
            index: link.index, name: link.name, kind: link.kind, master: link.masterIndex.map(name),
            adminUp: link.flags & UInt32(IFF_UP.rawValue) != 0, operState: link.operState, mtu: link.mtu,
            mac: link.mac, alias: link.alias)
        if let vid = link.vlanID, let lower = link.lowerIndex {
            result.vlan = VLANLinkInfo(id: vid, parent: name(lower))
        }
        if let options = link.bridge {
            func flag(_ option: cnetlink_bridge_option, _ value: UInt8) -> Bool? {
                options.present & option.rawValue != 0 ? value != 0 : nil
            }
            result.bridge = BridgeInfo(
                vlanFiltering: options.vlan_filtering != 0, stpEnabled: options.stp_state != 0,
                forwardDelay: Int(options.forward_delay),
                nfCallIPTables: flag(CNETLINK_BRIDGE_NF_CALL_IPTABLES, options.nf_call_iptables),
                nfCallIP6Tables: flag(CNETLINK_BRIDGE_NF_CALL_IP6TABLES, options.nf_call_ip6tables),
                nfCallARPTables: flag(CNETLINK_BRIDGE_NF_CALL_ARPTABLES, options.nf_call_arptables),
                defaultPVID: options.present & CNETLINK_BRIDGE_VLAN_DEFAULT_PVID.rawValue != 0 ? Int(options.vlan_default_pvid) : nil,
                selfVLANs: vlans.map(Self.portVLANs))
        }
        if let master = link.masterIndex, bridges.contains(master) {
            let state = link.portState.flatMap { LinkParser.portStates.indices.contains(Int($0)) ? LinkParser.portStates[Int($0)] : nil }
            result.port = BridgePortInfo(state: state ?? "unknown", vlans: vlans.map(Self.portVLANs))
        }
        return result
    }

    private static func portVLANs(_ ranges: [cnetlink_vlan_range]) -> PortVLANs {
        func set(_ matching: [cnetlink_vlan_range]) -> VLANSet {
            VLANSet(
                ranges: matching.compactMap { range in
                    guard let first = try? VLANID(Int(range.first)), let last = try? VLANID(Int(range.last)) else { return nil }
                    return first...last
                })
        }
        let untaggedFlag = UInt16(BRIDGE_VLAN_INFO_UNTAGGED)
        let pvidFlag = UInt16(BRIDGE_VLAN_INFO_PVID)
        let pvid = ranges.first { $0.flags & pvidFlag != 0 && $0.first == $0.last }.flatMap { try? VLANID(Int($0.first)) }
        return PortVLANs(members: set(ranges), untagged: set(ranges.filter { $0.flags & untaggedFlag != 0 }), pvid: pvid)
    }

    // MARK: Links

    /// Creates a bridge with its options in the create message, then marks it with `mark`.
    /// If marking fails the bridge is deleted again, so the call either fully happens or not at all.
    /// Returns the new bridge's index.
    ///
    /// Equivalent to: `ip link add NAME type bridge stp_state 0 forward_delay 0 [vlan_filtering 1]
    /// [nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0]; ip link set NAME alias vlanwire`.
    @discardableResult
    public func createBridge(_ spec: BridgeSpec, mark: LinkMark = .namespaceDefault) throws(NetlinkError) -> Int32 {
        var options = cnetlink_bridge_options()
        options.present = CNETLINK_BRIDGE_STP_STATE.rawValue | CNETLINK_BRIDGE_FORWARD_DELAY.rawValue
        options.stp_state = spec.stp ? 1 : 0
        options.forward_delay = UInt32(clamping: spec.forwardDelay)
        // vlan_filtering 0 is the kernel default; leaving it out keeps bridge creation working on
        // kernels without CONFIG_BRIDGE_VLAN_FILTERING.
        if spec.vlanFiltering {
            options.present |= CNETLINK_BRIDGE_VLAN_FILTERING.rawValue
            options.vlan_filtering = 1
        }
        if spec.netfilterOff { options.setNetfilterCalls(false) }
        let context = RequestContext(operation: "create bridge \(spec.name)", links: [spec.name.rawValue])
        try request(LinkRequest.bridgeOptions(spec.name, create: true, options, context), context)
        return try markCreated(spec.name, mark)
    }

    /// Creates a VLAN leg on `parent` and marks it with `mark` (deleted again if marking fails).
    /// Returns the new link's index.
    ///
    /// Equivalent to: `ip link add link PARENT name NAME type vlan id VID; ip link set NAME alias vlanwire`.
    @discardableResult
    public func createVLANLeg(
        name: LinkName, parent: LinkName, vid: VLANID,
        mark: LinkMark = .namespaceDefault
    ) throws(NetlinkError) -> Int32 {
        let context = RequestContext(
            operation: "create VLAN leg \(name) on \(parent) (VLAN \(vid))",
            links: [name.rawValue, parent.rawValue])
        try withIndex(of: parent, context) { (parentIndex) throws(NetlinkError) in
            try request(LinkRequest.createVLAN(name, parentIndex: parentIndex, vid: vid, context), context)
        }
        return try markCreated(name, mark)
    }

    private func markCreated(_ name: LinkName, _ mark: LinkMark) throws(NetlinkError) -> Int32 {
        do {
            try setAlias(name, mark.alias)
            return try lookUpIndex(name)
        } catch {
            logger.warning("deleting \(name) again: it was created but could not be marked", metadata: ["error": "\(error)"])
            try? delete(name)
            throw error
        }
    }

    /// Equivalent to: `ip link set LINK alias TEXT`.
    public func setAlias(_ link: LinkName, _ alias: String) throws(NetlinkError) {
        let context = RequestContext(operation: "set alias of \(link)", links: [link.rawValue])
        try request(LinkRequest.change(link, .alias(alias), context), context)
    }

    /// Equivalent to: `ip link set LINK master BRIDGE`.
    public func enslave(_ link: LinkName, to bridge: LinkName) throws(NetlinkError) {
        let context = RequestContext(operation: "enslave \(link) to \(bridge)", links: [link.rawValue, bridge.rawValue])
        try withIndex(of: bridge, context) { (bridgeIndex) throws(NetlinkError) in
            try request(LinkRequest.change(link, .master(bridgeIndex), context), context)
        }
    }

    /// Equivalent to: `ip link set LINK nomaster`.
    public func release(_ link: LinkName) throws(NetlinkError) {
        let context = RequestContext(operation: "release \(link) from its bridge", links: [link.rawValue])
        try request(LinkRequest.change(link, .master(0), context), context)
    }

    /// Equivalent to: `ip link set LINK up`.
    public func setUp(_ link: LinkName) throws(NetlinkError) {
        let context = RequestContext(operation: "set \(link) up", links: [link.rawValue])
        try request(LinkRequest.change(link, .up, context), context)
    }

    /// Equivalent to: `ip link set LINK down`.
    public func setDown(_ link: LinkName) throws(NetlinkError) {
        let context = RequestContext(operation: "set \(link) down", links: [link.rawValue])
        try request(LinkRequest.change(link, .down, context), context)
    }

    /// Equivalent to: `ip link set LINK mtu MTU`.
    public func setMTU(_ link: LinkName, _ mtu: Int) throws(NetlinkError) {
        let context = RequestContext(operation: "set MTU of \(link) to \(mtu)", links: [link.rawValue])
        guard let value = UInt32(exactly: mtu) else {
            throw NetlinkError(.errno(EINVAL), operation: context.operation, links: context.links)
        }
        try request(LinkRequest.change(link, .mtu(value), context), context)
    }

    /// Equivalent to: `ip link del LINK`.
    public func delete(_ link: LinkName) throws(NetlinkError) {
        let context = RequestContext(operation: "delete \(link)", links: [link.rawValue])
        try request(LinkRequest.delete(link, context), context)
        knownIndexes[link.rawValue] = nil
    }

    // MARK: Bridges

    /// Equivalent to: `ip link set BRIDGE type bridge vlan_filtering 1|0`.
    public func setVLANFiltering(bridge: LinkName, enabled: Bool) throws(NetlinkError) {
        var options = cnetlink_bridge_options()
        options.present = CNETLINK_BRIDGE_VLAN_FILTERING.rawValue
        options.vlan_filtering = enabled ? 1 : 0
        let context = RequestContext(operation: "set vlan_filtering \(enabled ? 1 : 0) on \(bridge)", links: [bridge.rawValue])
        try request(LinkRequest.bridgeOptions(bridge, create: false, options, context), context)
    }

    /// Sets the VLAN a joining port gets (`vlan_default_pvid`; nil: none, so a new port carries no
    /// VLAN until vlanwire wires it) without touching any port in `keeping` (the bridge's own name:
    /// its self entry): by way of `spare`, a VLAN no port uses (see `Action.setDefaultPVID`). One write.
    ///
    /// Equivalent to: `bridge vlan add dev PORT vid SPARE` per kept port, `ip link set BRIDGE type
    /// bridge vlan_default_pvid SPARE`, `... vlan_default_pvid TO|0`, `bridge vlan del dev PORT vid SPARE`.
    public func setDefaultPVID(bridge: LinkName, to target: VLANID?, keeping ports: [LinkName], via spare: VLANID) throws(NetlinkError) {
        let context = RequestContext(
            operation:
                "set vlan_default_pvid \(target.map { "\($0)" } ?? "0") on \(bridge), keeping \(ports.map(\.rawValue).joined(separator: ", ")) as they are",
            links: [bridge.rawValue] + ports.map(\.rawValue))
        func defaultPVID(_ vid: UInt16) throws(NetlinkError) -> NetlinkMessage {
            var options = cnetlink_bridge_options()
            options.present = CNETLINK_BRIDGE_VLAN_DEFAULT_PVID.rawValue
            options.vlan_default_pvid = vid
            return try LinkRequest.bridgeOptions(bridge, create: false, options, context)
        }
        let spareRange = [cnetlink_vlan_range(first: spare.value, last: spare.value, flags: 0)]
        var indexes: [(index: Int32, isSelf: Bool)] = []
        for port in ports { indexes.append((try index(of: port), port == bridge)) }
        var messages: [NetlinkMessage] = []
        for (index, isSelf) in indexes {
            messages.append(try LinkRequest.portVLANs(portIndex: index, add: true, isSelf: isSelf, spareRange, context))
        }
        messages.append(try defaultPVID(spare.value))
        messages.append(try defaultPVID(target?.value ?? 0))
        for (index, isSelf) in indexes {
            messages.append(try LinkRequest.portVLANs(portIndex: index, add: false, isSelf: isSelf, spareRange, context))
        }
        try send(context) { () throws(NetlinkError) in try socket.acknowledgedTogether(messages, context) }
    }

    /// The bridge's own netfilter switches (kernels with br_netfilter built in or loaded).
    ///
    /// Equivalent to: `ip link set BRIDGE type bridge nf_call_iptables V nf_call_ip6tables V nf_call_arptables V`.
    public func setBridgeNetfilter(bridge: LinkName, enabled: Bool) throws(NetlinkError) {
        var options = cnetlink_bridge_options()
        options.setNetfilterCalls(enabled)
        let context = RequestContext(operation: "set nf_call_* \(enabled ? 1 : 0) on \(bridge)", links: [bridge.rawValue])
        try request(LinkRequest.bridgeOptions(bridge, create: false, options, context), context)
    }

    // MARK: Port VLANs

    /// Adds memberships in ONE message whatever the number of ranges: the PVID and untagged members
    /// with their flags, the rest tagged. Re-adding a member sets its flags to the given ones.
    ///
    /// Equivalent to: `bridge vlan add dev PORT vid 10-20` (one command per range with uniform flags,
    /// e.g. `bridge vlan add dev PORT vid 5 pvid untagged`).
    public func addPortVLANs(_ port: LinkName, _ vlans: PortVLANs) throws(NetlinkError) {
        let ranges = vlans.entries.map { entry in
            cnetlink_vlan_range(
                first: entry.range.lowerBound.value, last: entry.range.upperBound.value,
                flags: (entry.pvid ? UInt16(BRIDGE_VLAN_INFO_PVID) : 0) | (entry.untagged ? UInt16(BRIDGE_VLAN_INFO_UNTAGGED) : 0))
        }
        let context = RequestContext(operation: "add VLANs \(vlans) to bridge port \(port)", links: [port.rawValue])
        try changePortVLANs(port, add: true, ranges, context)
    }

    /// Removes memberships in ONE message. VLANs the port is not a member of are ignored by the kernel.
    ///
    /// Equivalent to: `bridge vlan del dev PORT vid 1` (one command per range).
    public func removePortVLANs(_ port: LinkName, _ vlans: VLANSet) throws(NetlinkError) {
        let ranges = vlans.ranges.map { cnetlink_vlan_range(first: $0.lowerBound.value, last: $0.upperBound.value, flags: 0) }
        let context = RequestContext(operation: "remove VLANs \(vlans) from bridge port \(port)", links: [port.rawValue])
        try changePortVLANs(port, add: false, ranges, context)
    }

    private func changePortVLANs(
        _ port: LinkName, add: Bool, _ ranges: [cnetlink_vlan_range],
        _ context: RequestContext
    ) throws(NetlinkError) {
        guard !ranges.isEmpty else { return }
        try withIndex(of: port, context) { (portIndex) throws(NetlinkError) in
            try request(LinkRequest.portVLANs(portIndex: portIndex, add: add, ranges, context), context)
        }
    }

    // MARK: /proc/sys/net/bridge

    /// The global bridge netfilter knobs of this namespace; nil when br_netfilter is not loaded.
    ///
    /// Equivalent to: `sysctl net.bridge`.
    public func bridgeNetfilterSysctls() throws(NetlinkError) -> BridgeNetfilterSysctls? {
        var values: [String: Int] = [:]
        for name in BridgeNetfilterSysctls.names {
            guard let value = try BridgeSysctlFile(name, namespace: namespaceFile, write: false)?.readInteger() else { continue }
            values[name] = value
        }
        return values.isEmpty ? nil : BridgeNetfilterSysctls(values: values)
    }

    /// Writes one knob (a name from `BridgeNetfilterSysctls.names`).
    ///
    /// Equivalent to: `sysctl -w net.bridge.NAME=VALUE`.
    public func setBridgeNetfilterSysctl(_ name: String, _ value: Int) throws(NetlinkError) {
        guard BridgeNetfilterSysctls.names.contains(name) else {
            throw NetlinkError(
                .errno(EINVAL), operation: "set net.bridge.\(name) (known: \(BridgeNetfilterSysctls.names.joined(separator: ", ")))",
                links: [])
        }
        guard let file = try BridgeSysctlFile(name, namespace: namespaceFile, write: true) else {
            throw NetlinkError(.errno(ENOENT), operation: "set net.bridge.\(name) (br_netfilter is not loaded)", links: [])
        }
        try file.write(value)
    }

    // MARK: Sending

    /// Runs `body` with the index of `link`; when a remembered index turns out stale (ENODEV: the
    /// link was deleted and maybe re-created), looks the name up again and retries once.
    private func withIndex(
        of link: LinkName, _ context: RequestContext,
        _ body: (Int32) throws(NetlinkError) -> Void
    ) throws(NetlinkError) {
        if let known = knownIndexes[link.rawValue] {
            do {
                return try body(known)
            } catch  where error.errno == ENODEV {
                knownIndexes[link.rawValue] = nil
            }
        }
        let index: Int32
        do {
            index = try lookUpIndex(link)
        } catch  where error.errno == ENODEV {
            throw NetlinkError(.errno(ENODEV), operation: context.operation, links: context.links)
        }
        try body(index)
    }

    private func lookUpIndex(_ link: LinkName) throws(NetlinkError) -> Int32 {
        let context = RequestContext(operation: "find link \(link)", links: [link.rawValue])
        var found: Int32?
        try request(LinkRequest.get(link, context), context) { header in
            if let parsed = LinkParser.link(header), parsed.name == link.rawValue { found = parsed.index }
        }
        guard let found else { throw NetlinkError(.errno(ENODEV), operation: context.operation, links: context.links) }
        knownIndexes[link.rawValue] = found
        return found
    }

    private func request(
        _ message: NetlinkMessage, _ context: RequestContext,
        onReply: ((UnsafeMutablePointer<nlmsghdr>) -> Void)? = nil
    ) throws(NetlinkError) {
        try send(context) { () throws(NetlinkError) in try socket.acknowledged(message, context, onReply: onReply) }
    }

    private func dump(
        _ message: NetlinkMessage, _ context: RequestContext,
        onReply: (UnsafeMutablePointer<nlmsghdr>) -> Void
    ) throws(NetlinkError) {
        try send(context) { () throws(NetlinkError) in try socket.dump(message, context, onReply: onReply) }
    }

    /// Counts, logs, and applies the test seam for every request; replaces a socket that timed out.
    private func send(_ context: RequestContext, _ exchange: () throws(NetlinkError) -> Void) throws(NetlinkError) {
        if socket.isDesynchronised {
            logger.notice("reopening the netlink socket after a timeout", metadata: ["namespace": "\(namespace)"])
            socket = try NetlinkSocket(in: namespaceFile, timeout: timeout)
        }
        logger.trace("netlink request", metadata: ["operation": "\(context.operation)", "number": "\(messagesSent)"])
        if failingRequestNumber == messagesSent {
            failingRequestNumber = nil
            throw NetlinkError(
                .errno(EIO), operation: context.operation, links: context.links,
                kernelMessage: "fault injected by test")
        }
        messagesSent += 1
        do {
            try exchange()
        } catch {
            logger.debug("netlink request failed", metadata: ["error": "\(error)"])
            throw error
        }
    }
}

extension cnetlink_bridge_options {
    mutating func setNetfilterCalls(_ enabled: Bool) {
        present |=
            CNETLINK_BRIDGE_NF_CALL_IPTABLES.rawValue | CNETLINK_BRIDGE_NF_CALL_IP6TABLES.rawValue
            | CNETLINK_BRIDGE_NF_CALL_ARPTABLES.rawValue
        nf_call_iptables = enabled ? 1 : 0
        nf_call_ip6tables = enabled ? 1 : 0
        nf_call_arptables = enabled ? 1 : 0
    }
}
