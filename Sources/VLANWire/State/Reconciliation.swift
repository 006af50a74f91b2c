/// `vlanwire reconcile`: re-apply the running guests' policies (hook operation `reconnect`) and
/// rebuild vlanwire's records of them. The pure parts: what the state becomes, the dry run, and
/// the report. Applying is `Wiring.reconcile` (VLANWireHost), under one state lock.
public enum Reconciliation {
    /// The dry run (`--plan`): every guest planned against one kernel snapshot, nothing changed.
    /// Guests are planned independently, so two guests needing the same new access bridge both show its creation.
    public static func preview(
        _ domains: [DomainDescription], topology: Topology, observed: ObservedState,
        state stored: VLANWireState?, mark: LinkMark, everyRunningGuest: Bool,
        unreadable: [GuestReconcile] = []
    ) -> ReconcileSummary {
        let before = stored ?? VLANWireState.rebuilt(from: observed, mark: mark)
        let planner = Planner(topology: topology, observed: observed, state: before, mark: mark)
        var state = before
        var results = unreadable
        for domain in domains {
            do {
                let plan = try planner.plan(domain, operation: .reconnect)
                results.append(GuestReconcile(plan: plan, status: plan.isEmpty ? .unchanged : .planned))
                state = state.updated(with: plan, created: [])
            } catch {
                results.append(GuestReconcile(guest: domain.name, status: .failed, problems: error.problems))
            }
        }
        return ReconcileSummary(
            guests: results, before: before, after: state, stateWasStored: stored != nil,
            everyRunningGuest: everyRunningGuest, observed: observed, mark: mark, dryRun: true)
    }
}

/// What reconcile did (or would do) to one guest.
public struct GuestReconcile: Codable, Equatable, Sendable {
    public enum Status: String, Codable, Equatable, Sendable {
        /// The kernel already matched: nothing to change.
        case unchanged
        /// Actions were applied.
        case applied
        /// Dry run: actions would be applied.
        case planned
        /// Refused, or the kernel refused an action (what this guest's run did was undone).
        case failed
    }

    public var guest: String
    public var status: Status
    /// The actions, as iproute2 commands (applied, or planned).
    public var actions: [String]
    public var notes: [String]
    public var problems: [Problem]

    public init(guest: String, status: Status, actions: [String] = [], notes: [String] = [], problems: [Problem] = []) {
        self.guest = guest
        self.status = status
        self.actions = actions
        self.notes = notes
        self.problems = problems
    }

    public init(plan: Plan, status: Status, problems: [Problem] = []) {
        self.init(
            guest: plan.guest, status: status, actions: plan.actions.map(\.description), notes: plan.notes,
            problems: problems)
    }

    /// `web1: nothing to change` / `web1: 1 action applied` + numbered commands / `web1: FAILED` + problems
    /// (a guest that fails while being applied has what was done undone).
    public var text: String {
        let name = guest.escapedForDisplay
        var out: String
        let count = "\(actions.count) action\(actions.count == 1 ? "" : "s")"
        switch status {
        case .unchanged: out = "\(name): nothing to change\n"
        case .applied: out = "\(name): \(count) applied\n"
        case .planned: out = "\(name): \(count) to apply\n"
        case .failed: out = "\(name): FAILED\n"
        }
        if status != .failed || problems.isEmpty {
            for (index, action) in actions.enumerated() { out += "  \(index + 1). \(action)\n" }
        }
        for problem in problems { out += "  \(problem.description)\n" }
        for note in notes { out += "  note: \(note)\n" }
        return out
    }
}

/// A whole reconcile run: per guest, and what became of vlanwire's state.
public struct ReconcileSummary: Codable, Equatable, Sendable {
    public var dryRun: Bool
    public var guests: [GuestReconcile]
    /// Guests recorded in the state afterwards.
    public var recorded: [String]
    /// Records dropped: guests that are not running any more (their taps are gone).
    public var forgotten: [String]
    /// Created links dropped from the state: gone from the kernel, or now another link of that name.
    public var staleLinks: [String]
    /// The links vlanwire created, as the state records them afterwards.
    public var createdLinks: [String]
    /// Whether the state file was missing or unreadable (rebuilt from the kernel's marks).
    public var stateRebuilt: Bool
    public var usersUnknownBefore: Bool
    /// Still true only when some running guest could not be reconciled (or only some guests were named).
    public var usersUnknown: Bool

    /// Finishes a run: `after` is the state with every reconciled guest's record updated.
    public init(
        guests: [GuestReconcile], before: VLANWireState, after: VLANWireState, stateWasStored: Bool,
        everyRunningGuest: Bool, observed: ObservedState, mark: LinkMark, dryRun: Bool
    ) {
        let finished = after.afterReconcile(
            reconciled: Set(guests.filter { $0.status != .failed }.map(\.guest)),
            failed: Set(guests.filter { $0.status == .failed }.map(\.guest)),
            everyRunningGuest: everyRunningGuest, observed: observed, mark: mark)
        self.dryRun = dryRun
        self.guests = guests
        state = finished.state
        recorded = finished.state.guests.map(\.name)
        forgotten = finished.forgotten
        staleLinks = finished.staleLinks.map(\.rawValue)
        createdLinks = finished.state.createdLinks.map(\.name.rawValue)
        stateRebuilt = !stateWasStored
        usersUnknownBefore = before.usersUnknown
        usersUnknown = finished.state.usersUnknown
    }

    /// The state to store (not part of the JSON).
    public var state: VLANWireState

    enum CodingKeys: String, CodingKey {
        case dryRun, guests, recorded, forgotten, staleLinks, createdLinks, stateRebuilt, usersUnknownBefore, usersUnknown
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        dryRun = try container.decode(Bool.self, forKey: .dryRun)
        guests = try container.decode([GuestReconcile].self, forKey: .guests)
        recorded = try container.decode([String].self, forKey: .recorded)
        forgotten = try container.decode([String].self, forKey: .forgotten)
        staleLinks = try container.decode([String].self, forKey: .staleLinks)
        createdLinks = try container.decode([String].self, forKey: .createdLinks)
        stateRebuilt = try container.decode(Bool.self, forKey: .stateRebuilt)
        usersUnknownBefore = try container.decode(Bool.self, forKey: .usersUnknownBefore)
        usersUnknown = try container.decode(Bool.self, forKey: .usersUnknown)
        state = .empty
    }

    public var failures: [GuestReconcile] { guests.filter { $0.status == .failed } }

    /// One line per problem of every failed guest (what the CLI writes on stderr).
    public var failureLines: [String] {
        failures.flatMap { failed in
            failed.problems.isEmpty ? ["guest '\(failed.guest.escapedForDisplay)': failed"] : failed.problems.map(\.description)
        }
    }

    public var text: String {
        var out = guests.isEmpty ? "No running guests to reconcile.\n" : guests.map(\.text).joined()
        var stateLine = (dryRun ? "state would be: " : "state: ") + "\(recorded.count) guest\(recorded.count == 1 ? "" : "s") recorded"
        if !forgotten.isEmpty {
            stateLine += "; forgets \(forgotten.map(\.escapedForDisplay).joined(separator: ", ")) (not running)"
        }
        if !staleLinks.isEmpty { stateLine += "; drops stale link record\(staleLinks.count == 1 ? "" : "s") \(staleLinks.joined(separator: ", "))" }
        if stateRebuilt { stateLine += dryRun ? "; the state file is missing or unreadable" : "; the state file was missing or unreadable: rebuilt" }
        let links = createdLinks.joined(separator: ", ")
        if usersUnknownBefore && !usersUnknown && !createdLinks.isEmpty {
            stateLine += "; the users of \(links) \(dryRun ? "would be" : "are") known again"
        } else if usersUnknown && !createdLinks.isEmpty {
            stateLine += "; the users of \(links) stay unknown, so they are not deleted (reconcile every running guest without failures to fix that)"
        }
        out += stateLine + "\n"
        if !failures.isEmpty {
            out += "\(failures.count) guest\(failures.count == 1 ? "" : "s") failed.\n"
        }
        return out
    }
}

extension VLANWireState {
    /// The state after reconciling: `reconciled` guests' records are already updated (by their
    /// plans); this drops what is known to be stale.
    ///
    /// - With `everyRunningGuest`, records of guests neither reconciled nor failed are dropped when
    ///   none of their recorded taps exists any more (a guest that started after the guest list
    ///   was taken keeps its record: its tap exists).
    /// - Created links that are gone from the kernel, or whose name now belongs to another link
    ///   (ifindex or mark differs), are dropped.
    /// - `usersUnknown` clears when every running guest was reconciled without failure.
    public func afterReconcile(
        reconciled: Set<String>, failed: Set<String>, everyRunningGuest: Bool,
        observed: ObservedState, mark: LinkMark
    ) -> (state: VLANWireState, forgotten: [String], staleLinks: [LinkName]) {
        var next = self
        var forgotten: [String] = []
        if everyRunningGuest {
            next.guests.removeAll { record in
                guard !reconciled.contains(record.name), !failed.contains(record.name) else { return false }
                let tapAlive = record.nics.contains { nic in
                    guard let tap = nic.tap, let link = observed.link(named: tap) else { return false }
                    return nic.tapIndex == nil || nic.tapIndex == link.index
                }
                if !tapAlive { forgotten.append(record.name) }
                return !tapAlive
            }
        }
        var stale: [LinkName] = []
        if observed.complete {
            next.createdLinks.removeAll { created in
                guard let link = observed.link(named: created.name), link.index == created.index, link.isMarked(by: mark)
                else {
                    stale.append(created.name)
                    return true
                }
                return false
            }
        }
        if everyRunningGuest && failed.isEmpty { next.usersUnknown = false }
        // Every running guest was asked for: the users are exactly what the records say.
        if everyRunningGuest { next.recountUsers() }
        return (next, forgotten, stale)
    }
}
