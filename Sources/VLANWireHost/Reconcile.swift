import Logging
package import VLANWire
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
    /// `leavingStartingGuests` (watch): a guest whose `prepare` ran but not its `start` is left to
    /// its hook (unchanged, with a note).
    ///
    /// - Throws: only when the lock, the state directory or netlink cannot be used at all.
    package func reconcile(
        _ domains: [DomainDescription], everyRunningGuest: Bool,
        unreadable: [GuestReconcile] = [], leavingStartingGuests: Bool = false
    ) throws -> ReconcileSummary {
        let handle = try NetlinkHandle(namespace: namespace, logger: logger)
        return try store.withLock { stored in
            var observed = try handle.snapshot(probingCapabilities: false)
            let before = known(stored, observed, reconciling: true)
            var state = before
            var results = unreadable
            for domain in domains {
                if leavingStartingGuests, state.guest(named: domain.name)?.isStarting == true {
                    results.append(GuestReconcile(guest: domain.name, status: .unchanged, notes: ["left to its hook, which is starting it"]))
                    continue
                }
                let (result, next, changed) = reconcileOne(domain, state: state, observed: observed, handle: handle)
                results.append(result)
                state = next
                if changed { observed = try handle.snapshot(probingCapabilities: false) }
            }
            let summary = ReconcileSummary(
                guests: results, before: before, after: state, stateWasStored: stored != nil,
                everyRunningGuest: everyRunningGuest, observed: observed, mark: store.mark, dryRun: false)
            for name in summary.forgotten { logger.notice("reconcile: forgot \(name): not running any more") }
            return (summary.state, summary)
        }
    }

    /// One guest: wired as the `reconnect` hook would. Returns whether the kernel changed.
    private func reconcileOne(
        _ domain: DomainDescription, state: VLANWireState, observed: ObservedState,
        handle: NetlinkHandle
    ) -> (GuestReconcile, VLANWireState, Bool) {
        let wired: WiredGuest
        do throws(WiringFailure) {
            wired = try wire(domain, operation: .reconnect, state: state, observed: observed, handle: handle)
        } catch {
            let problems = error.problems(guest: domain.name, retry: "run `vlanwire reconcile \(domain.name)` again")
            for problem in problems { logger.info("reconcile: \(problem)") }
            switch error {
            case .refused: return (GuestReconcile(guest: domain.name, status: .failed, problems: problems), state, false)
            case .notApplied(let plan, let failure):
                return (GuestReconcile(plan: plan, status: .failed, problems: problems), state, !failure.rollbackClean)
            }
        }
        let changed = !wired.report.appliedActions.isEmpty
        let status: GuestReconcile.Status = !wired.problems.isEmpty ? .failed : changed ? .applied : .unchanged
        return (GuestReconcile(plan: wired.plan, status: status, problems: wired.problems), wired.state, changed)
    }
}
