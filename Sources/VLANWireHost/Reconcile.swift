import Logging
public import VLANWire
import VLANWireNetlink

extension Wiring {
    /// `vlanwire reconcile`: re-applies each guest's policy (as the `reconnect` hook does) and
    /// rebuilds vlanwire's records of them, under ONE state lock: the kernel is read once up front
    /// (and again only after a guest's actions changed it), each guest is applied all or nothing,
    /// and the state is written once at the end.
    ///
    /// One guest failing (refused policy, missing tap, an action the kernel refused — undone) does
    /// not stop the others; its record stays as it was. With `everyRunningGuest` (no guest named),
    /// records of guests that are no longer running are dropped and, when no guest failed,
    /// `usersUnknown` clears: vlanwire again knows who uses the links it created.
    ///
    /// `domains` is the live XML of running guests, read from libvirt BEFORE calling this: never
    /// ask libvirt while holding the lock (a hook waiting for it would stall libvirt).
    ///
    /// `unreadable` are running guests whose XML could not be had (failed already; reported with the rest).
    ///
    /// - Throws: only when the lock, the state directory or netlink cannot be used at all.
    public func reconcile(_ domains: [DomainDescription], everyRunningGuest: Bool,
                          unreadable: [GuestReconcile] = []) throws -> ReconcileSummary {
        let handle = try NetlinkHandle(namespace: namespace, logger: logger)
        return try store.withLock { stored in
            var observed = try handle.snapshot()
            let before = stored ?? VLANWireState.rebuilt(from: observed)
            var state = before
            var results = unreadable
            for domain in domains {
                let (result, next, changed) = reconcileOne(domain, state: state, observed: observed, handle: handle)
                results.append(result)
                state = next
                if changed { observed = try handle.snapshot() }
            }
            let summary = ReconcileSummary(guests: results, before: before, after: state, stateWasStored: stored != nil,
                                           everyRunningGuest: everyRunningGuest, observed: observed, dryRun: false)
            for name in summary.forgotten { logger.notice("reconcile: forgot \(name): not running any more") }
            return (summary.state, summary)
        }
    }

    /// One guest: plan, apply atomically, verify the taps, record. Returns whether the kernel changed.
    private func reconcileOne(_ domain: DomainDescription, state: VLANWireState, observed: ObservedState,
                              handle: NetlinkHandle) -> (GuestReconcile, VLANWireState, Bool) {
        let planner = Planner(topology: Topology.resolve(config: config, observed: observed), observed: observed, state: state)
        let plan: Plan
        do { plan = try planner.plan(domain, operation: .reconnect) } catch {
            for problem in error.problems { logger.info("reconcile: \(problem)") }
            return (GuestReconcile(guest: domain.name, status: .failed, problems: error.problems), state, false)
        }
        for note in plan.notes { logger.notice("\(domain.name) reconcile: \(note)") }
        let report: ExecutionReport
        do throws(ExecutionError) {
            report = try Executor(handle: handle, faultInjection: faultInjection, logger: logger)
                .apply(plan.actions, .atomic(before: observed))
        } catch {
            let problem = Problem(guest: domain.name, cause: "could not wire the guest: \(error)",
                                  fix: error.rollbackClean ? "nothing was changed; fix the cause and run `vlanwire reconcile \(domain.name)` again"
                                                           : "run `vlanwire doctor` and remove what is listed as left over")
            logger.info("reconcile: \(problem)")
            return (GuestReconcile(plan: plan, status: .failed, problems: [problem]), state, !error.rollbackClean)
        }
        for action in report.appliedActions { logger.info("\(domain.name) reconcile: \(action)") }
        var recorded = plan
        var problems: [Problem] = []
        if let record = plan.record {
            (recorded.record, problems) = verifiedTaps(record, guest: domain.name, handle: handle)
        }
        // Recorded even when verification failed: what was created must stay known to be deletable.
        let next = state.updated(with: recorded, created: report.createdLinks.map { created in
            CreatedLink(name: created.name, index: created.index, kind: Self.kind(of: created.name, in: plan))
        })
        let changed = !report.appliedActions.isEmpty
        let status: GuestReconcile.Status = !problems.isEmpty ? .failed : changed ? .applied : .unchanged
        return (GuestReconcile(plan: plan, status: status, problems: problems), next, changed)
    }

    /// Every wired tap sits in the bridge its policy needs; records each tap's ifindex.
    private func verifiedTaps(_ record: GuestRecord, guest: String, handle: NetlinkHandle) -> (GuestRecord, [Problem]) {
        let links: [ObservedLink]
        do { links = try handle.links() } catch {
            return (record, [Problem(guest: guest, cause: "could not read the links back: \(error)")])
        }
        var verified = record
        var problems: [Problem] = []
        for (index, nic) in record.nics.enumerated() {
            guard let tap = nic.tap, let bridge = nic.bridge else { continue }
            guard let link = links.first(where: { $0.name == tap.rawValue }) else {
                problems.append(Problem(guest: guest, mac: nic.mac, cause: "tap \(tap) disappeared while being wired"))
                continue
            }
            verified.nics[index].tapIndex = link.index
            if link.master != bridge.rawValue {
                problems.append(Problem(guest: guest, mac: nic.mac, cause: "tap \(tap) is in \(link.master ?? "no bridge"), not \(bridge)",
                                        fix: "run `vlanwire doctor`"))
            }
        }
        return (verified, problems)
    }

    private static func kind(of name: LinkName, in plan: Plan) -> String {
        for action in plan.actions {
            if case .createBridge(let spec) = action, spec.name == name { return "bridge" }
            if case .createVLANLeg(let leg, _, _) = action, leg == name { return "vlan" }
        }
        return "unknown"
    }
}
