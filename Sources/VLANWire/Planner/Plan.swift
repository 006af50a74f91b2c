/// The operations libvirt passes to its qemu hook (`qemu GUEST OP SUBOP EXTRA`).
public enum HookOperation: String, Codable, Sendable, CaseIterable {
    case prepare, start, started, stopped, release, migrate, restore, reconnect, attach

    public enum Phase: Sendable {
        /// Create what libvirt needs to attach taps (bridges, VLAN legs, uplink VLANs).
        case infrastructure
        /// Infrastructure, then the taps themselves (bridge and port VLANs).
        case ports
        /// Forget the guest; delete what vlanwire created and nothing uses.
        case release
    }

    /// Whether the hook may exit 1 for this operation, and so stop the guest from starting:
    /// prepare, start, started, migrate, restore. Stopping, release, reconnect and attach always
    /// exit 0 — a failure there must never kill a running guest or block its stop.
    public var mayRefuse: Bool {
        phase != .release && self != .reconnect && self != .attach
    }

    public var phase: Phase {
        switch self {
        case .prepare, .migrate, .restore: .infrastructure
        case .start, .started, .reconnect, .attach: .ports
        case .stopped, .release: .release
        }
    }
}

/// The planner's output: ordered kernel actions, what vlanwire understood of each NIC, and
/// how its state changes once the actions are applied.
public struct Plan: Equatable, Sendable {
    public var guest: String
    public var operation: HookOperation
    public var nics: [ResolvedNIC]
    public var actions: [Action]
    /// Things an admin should know that are not errors (a tap moved, a leg found on the uplink, ...).
    public var notes: [String]
    /// The guest's record to store once the actions are applied (nil on release).
    public var record: GuestRecord?
    /// Created links this plan deletes (dropped from the state once deleted).
    public var deletions: [LinkName]
    /// State entries that no longer match the kernel (gone, or now someone else's link).
    public var staleLinks: [LinkName]

    public init(
        guest: String, operation: HookOperation, nics: [ResolvedNIC] = [], actions: [Action] = [],
        notes: [String] = [], record: GuestRecord? = nil, deletions: [LinkName] = [], staleLinks: [LinkName] = []
    ) {
        self.guest = guest
        self.operation = operation
        self.nics = nics
        self.actions = actions
        self.notes = notes
        self.record = record
        self.deletions = deletions
        self.staleLinks = staleLinks
    }

    public var isEmpty: Bool { actions.isEmpty }

    /// Whether an action needs a kernel feature some kernels lack (802.1Q for a VLAN leg, bridge
    /// VLAN filtering): the planner refuses those with a clear cause only when it knows the
    /// kernel's `KernelCapabilities`.
    public var needsOptionalKernelFeatures: Bool {
        actions.contains { action in
            switch action {
            case .createVLANLeg, .setVLANFiltering(_, true): true
            default: false
            }
        }
    }
}

extension VLANWireState {
    /// The state after `plan` was applied; `created` are the links the executor made (with ifindex).
    public func updated(with plan: Plan, created: [CreatedLink]) -> VLANWireState {
        var next = self
        // One pass, not one per created link (500 access bridges create 1,000 links).
        let dropped = Set(plan.deletions + plan.staleLinks + created.map(\.name))
        next.createdLinks.removeAll { dropped.contains($0.name) }
        var seen = Set<LinkName>()
        // The last entry for a name wins, as when each replaced the one before.
        let latest = created.reversed().filter { seen.insert($0.name).inserted }.reversed()
        next.createdLinks.append(contentsOf: latest)
        next.guests.removeAll { $0.name == plan.guest }
        next.linkUsers.removing(plan.guest)
        if let record = plan.record, !record.nics.isEmpty {
            next.guests.append(record)
            for link in record.nics.flatMap(\.uses) { next.linkUsers.adding(plan.guest, to: link) }
        }
        return next
    }
}
