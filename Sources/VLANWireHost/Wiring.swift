package import Logging
package import VLANWire
package import VLANWireNetlink

/// Plans and applies a guest's wiring against one network namespace, under the state lock:
/// what the hook, `apply`, `release` and `reconcile` all do.
package struct Wiring {
    package var namespace: NetworkNamespace
    package var store: StateStore
    package var config: HostConfig?
    package var logger: Logger
    /// Test seam: make the k-th action (or netlink request) fail as if the kernel refused it.
    package var faultInjection: FaultInjection

    package init(
        namespace: NetworkNamespace = .current, store: StateStore, config: HostConfig?, logger: Logger,
        faultInjection: FaultInjection = .none
    ) {
        self.namespace = namespace
        self.store = store
        self.config = config
        self.logger = logger
        self.faultInjection = faultInjection
    }

    /// What a run did.
    package struct Outcome: Sendable {
        package var plan: Plan
        package var report: ExecutionReport
    }

    /// Wires `domain` for `operation` (prepare ... reconnect). All or nothing: on a refused policy
    /// nothing is applied; on a failed action what this run did is undone, and `Refusal` says why.
    package func apply(_ domain: DomainDescription, operation: HookOperation) throws -> Outcome {
        precondition(operation.phase != .release, "use release(guest:)")
        let handle = try NetlinkHandle(namespace: namespace, logger: logger)
        let wired = try store.withLock(guest: domain.name) { stored in
            let observed = try handle.snapshot(probingCapabilities: false)
            let state = known(stored, observed)
            do throws(WiringFailure) {
                let wired = try wire(domain, operation: operation, state: state, observed: observed, handle: handle)
                return (wired.state, wired)
            } catch {
                // Links this run created were deleted again, so the stored state stays as it was.
                throw Refusal(error.problems(guest: domain.name, retry: "start the guest again"))
            }
        }
        guard wired.problems.isEmpty else { throw Refusal(wired.problems) }
        return Outcome(plan: wired.plan, report: wired.report)
    }

    /// One guest wired, as `apply` and `reconcile` both need it.
    struct WiredGuest {
        /// The plan as recorded (tap ifindexes filled in).
        var plan: Plan
        var report: ExecutionReport
        /// Applied, but a tap is not where the policy needs it.
        var problems: [Problem]
        /// The state that records it: kept even when `problems` is not empty, so what was created
        /// stays known to be deletable.
        var state: VLANWireState
    }

    enum WiringFailure: Error {
        /// The policy was refused: nothing was applied.
        case refused(Refusal)
        /// An action failed; what this run did was undone (`rollbackClean`) or could not be.
        case notApplied(Plan, ExecutionError)

        /// What to tell the admin; `retry` is how to try again once the cause is fixed.
        func problems(guest: String, retry: String) -> [Problem] {
            switch self {
            case .refused(let refusal): refusal.problems
            case .notApplied(_, let error):
                [
                    Problem(
                        guest: guest, cause: "could not wire the guest: \(error)",
                        fix: error.rollbackClean
                            ? "nothing was changed; fix the cause and \(retry)"
                            : "run `vlanwire doctor` and remove what is listed as left over")
                ]
            }
        }
    }

    /// Under the lock: plans one guest against `observed`, applies the plan all or nothing,
    /// verifies the taps when `operation` wires ports, and returns the state that records it.
    /// The kernel's capabilities are probed only when the plan needs a feature a kernel may lack
    /// (a VLAN leg, VLAN filtering), then the guest is planned again knowing them.
    func wire(
        _ domain: DomainDescription, operation: HookOperation, state: VLANWireState,
        observed: ObservedState, handle: NetlinkHandle
    ) throws(WiringFailure) -> WiredGuest {
        func planned(_ observed: ObservedState) throws(WiringFailure) -> Plan {
            let planner = Planner(
                topology: Topology.resolve(config: config, observed: observed), observed: observed,
                state: state, mark: store.mark)
            do { return try planner.plan(domain, operation: operation) } catch { throw .refused(error) }
        }
        var plan = try planned(observed)
        if observed.capabilities == nil, plan.needsOptionalKernelFeatures {
            var probed = observed
            probed.capabilities = handle.probedCapabilities()
            plan = try planned(probed)
        }
        // Notes that come with changes are news; alone (a pending policy) they would repeat on every run.
        for note in plan.notes {
            logger.log(level: plan.actions.isEmpty ? .debug : .notice, "\(domain.name) \(operation.rawValue): \(note)")
        }
        let report: ExecutionReport
        do throws(ExecutionError) {
            report = try Executor(handle: handle, mark: store.mark, faultInjection: faultInjection, logger: logger)
                .apply(plan.actions, .atomic(before: observed))
        } catch {
            throw .notApplied(plan, error)
        }
        for action in report.appliedActions { logger.info("\(domain.name) \(operation.rawValue): \(action)") }
        var recorded = plan
        var problems: [Problem] = []
        if operation.phase == .ports, let record = plan.record {
            (recorded.record, problems) = verifyTaps(record, guest: domain.name, handle: handle)
        }
        let kinds = createdKinds(in: plan)
        let next = state.updated(
            with: recorded,
            created: report.createdLinks.map { created in
                CreatedLink(name: created.name, index: created.index, kind: kinds[created.name] ?? "unknown")
            })
        return WiredGuest(plan: recorded, report: report, problems: problems, state: next)
    }

    /// Forgets the guest and deletes what vlanwire created that nothing uses any more.
    /// Never throws: failures are logged and returned in the report.
    package func release(guest: String, operation: HookOperation = .release) -> Outcome {
        do {
            let handle = try NetlinkHandle(namespace: namespace, logger: logger)
            return try store.withLock(guest: guest) { stored in
                // A release never creates links nor turns filtering on: no capability probe.
                let observed = try handle.snapshot(probingCapabilities: false)
                let state = known(stored, observed)
                let plan = Planner(
                    topology: Topology.resolve(config: config, observed: observed), observed: observed, state: state,
                    mark: store.mark
                )
                .planRelease(guest: guest, operation: operation)
                for note in plan.notes { logger.notice("\(guest): \(note)") }
                // Best effort never throws; a failed deletion keeps its state entry (it is retried next time).
                let report =
                    (try? Executor(handle: handle, mark: store.mark, faultInjection: faultInjection, logger: logger)
                        .apply(plan.actions, .bestEffort)) ?? ExecutionReport()
                for action in report.appliedActions { logger.info("\(guest) \(operation.rawValue): \(action)") }
                var done = plan
                let failed = Set(
                    report.failures.compactMap { failure -> LinkName? in
                        if case .deleteLink(let name) = failure.action { name } else { nil }
                    })
                done.deletions.removeAll { failed.contains($0) }
                return (state.updated(with: done, created: []), Outcome(plan: done, report: report))
            }
        } catch {
            logger.error("\(guest) \(operation.rawValue): \(error)")
            return Outcome(plan: Plan(guest: guest, operation: operation), report: ExecutionReport())
        }
    }

    /// The stored state (or one rebuilt from the kernel), plus links a killed run created unrecorded.
    /// `reconciling`: the caller rebuilds the users itself (and reports it), so no warning.
    func known(_ stored: VLANWireState?, _ observed: ObservedState, reconciling: Bool = false) -> VLANWireState {
        guard let stored else { return rebuiltState(observed, warn: !reconciling) }
        let (state, adopted) = stored.adoptingOrphans(in: observed, mark: store.mark)
        if !adopted.isEmpty {
            logger.notice(
                "adopted \(adopted.map(\.rawValue).joined(separator: ", ")): marked by vlanwire but not in the state (an interrupted run created them)"
            )
        }
        return state
    }

    private func rebuiltState(_ observed: ObservedState, warn: Bool) -> VLANWireState {
        let state = VLANWireState.rebuilt(from: observed, mark: store.mark)
        if warn, !state.createdLinks.isEmpty {
            logger.warning(
                "state file missing or unreadable; found \(state.createdLinks.count) link(s) marked by vlanwire, which will not be deleted until `vlanwire reconcile` rebuilds their users"
            )
        }
        return state
    }

    /// The kind of every link the plan creates, in one pass (looking each created link up in the
    /// actions was quadratic: 1,000 links x 4,500 actions for 500 access bridges).
    private func createdKinds(in plan: Plan) -> [LinkName: String] {
        var kinds: [LinkName: String] = [:]
        for action in plan.actions {
            if case .createBridge(let spec) = action { kinds[spec.name] = "bridge" }
            if case .createVLANLeg(let leg, _, _) = action { kinds[leg] = "vlan" }
        }
        return kinds
    }

    /// After `start`: every wired tap sits in the bridge its policy needs (libvirt put it in the
    /// XML's bridge; the plan may have moved it). Records the tap's ifindex for release.
    /// One request per tap, not a dump of every link: a host with hundreds of guests has thousands.
    private func verifyTaps(_ record: GuestRecord, guest: String, handle: NetlinkHandle) -> (GuestRecord, [Problem]) {
        var verified = record
        var problems: [Problem] = []
        for (index, nic) in record.nics.enumerated() {
            guard let tap = nic.tap, let bridge = nic.bridge else { continue }
            let link: NetlinkHandle.Membership?
            do { link = try handle.membership(of: tap) } catch {
                problems.append(Problem(guest: guest, mac: nic.mac, cause: "could not read tap \(tap) back: \(error)"))
                continue
            }
            guard let link else {
                problems.append(Problem(guest: guest, mac: nic.mac, cause: "tap \(tap) disappeared while being wired"))
                continue
            }
            verified.nics[index].tapIndex = link.index
            let bridgeIndex = try? handle.index(of: bridge)
            if link.masterIndex == nil || link.masterIndex != bridgeIndex {
                // Rare: name the bridge the tap is in instead (one dump).
                let master = link.masterIndex.flatMap { masterIndex in
                    (try? handle.links())?.first { $0.index == masterIndex }?.name
                }
                problems.append(
                    Problem(
                        guest: guest, mac: nic.mac, cause: "tap \(tap) is in \(master ?? "no bridge"), not \(bridge)",
                        fix: "run `vlanwire doctor`"))
            }
        }
        return (verified, problems)
    }
}
