import VLANWireTestSupport

@testable import VLANWire
@testable import VLANWireReports

/// One of Examples/ as the kernel has it after vlanwire wired its guests: the kernel model applies
/// each guest's prepare plan, libvirt's tap appears in the XML's bridge (with the tap MAC libvirt
/// gives it), then the start plan runs. Every link that is up has carrier, as on a real host.
struct WiredExample {
    var config: HostConfig
    var guests: [DomainDescription]
    var observed: ObservedState

    var topology: Topology { Topology.resolve(config: config, observed: observed) }

    /// `running: false` stops after prepare: no taps, as for guests that are not running.
    init(_ example: String, running: Bool = true) throws {
        config = try HostConfig(toml: Repository.text("Examples/\(example)/vlanwire.toml"), path: example)
        guests = try Repository.files(in: "Examples/\(example)", suffix: ".xml").map { try DomainDescription(xml: Repository.read($0)) }
        let trunk = config.uplinks.first?.bridge?.rawValue
        var model = KernelModel(state: host(trunk: trunk, vlanFiltering: config.uplinks.first?.mode == .vlanAware))
        var tapIndex: Int32 = 100
        for guest in guests {
            try model.apply(Self.plan(guest, .prepare, config: config, observed: model.state).actions)
            guard running else { continue }
            for interface in guest.interfaces {
                let bridge = model.state.link(named: interface.sourceBridge!)!
                tapIndex += 1
                model.state.links.append(
                    ObservedLink(
                        index: tapIndex, name: interface.targetDevice!, kind: "tun", master: bridge.name,
                        mac: interface.mac!.libvirtTapAddress,
                        port: BridgePortInfo(vlans: bridge.bridge?.vlanFiltering == true ? .kernelDefault : nil)))
            }
            try model.apply(Self.plan(guest, .start, config: config, observed: model.state).actions)
        }
        for index in model.state.links.indices {
            model.state.links[index].operState = model.state.links[index].adminUp ? "up" : "down"
        }
        observed = model.state
    }

    static func plan(
        _ guest: DomainDescription, _ operation: HookOperation, config: HostConfig,
        observed: ObservedState
    ) throws -> Plan {
        try Planner(topology: Topology.resolve(config: config, observed: observed), observed: observed)
            .plan(guest, operation: operation)
    }

    func guest(_ name: String) -> DomainDescription { guests.first { $0.name == name }! }

    /// Changes one link of the snapshot.
    mutating func change(_ name: String, _ body: (inout ObservedLink) -> Void) {
        let index = observed.links.firstIndex { $0.name == name }!
        body(&observed.links[index])
    }

    /// Adds a VLAN leg, up, on `parent`.
    mutating func addLeg(_ name: String, parent: String, vid: Int, master: String? = nil) {
        let index = (observed.links.map(\.index).max() ?? 0) + 1
        observed.links.append(
            ObservedLink(
                index: index, name: name, kind: "vlan", master: master,
                vlan: VLANLinkInfo(id: try! VLANID(vid), parent: parent),
                port: master.map { _ in BridgePortInfo() }))
    }

    func doctor(state: VLANWireState? = nil, guests: [DomainDescription]? = nil) -> Doctor {
        Doctor(
            observed: observed, topology: topology, state: state, guests: guests ?? self.guests,
            guestSource: .libvirt)
    }

    func tracer() -> FrameTracer { FrameTracer(observed: observed, topology: topology) }
}
