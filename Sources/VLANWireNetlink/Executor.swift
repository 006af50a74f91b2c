public import Logging
public import VLANWire

#if canImport(Glibc)
    internal import Glibc
#endif

/// Applies planner actions, in order, through one `NetlinkHandle`.
public struct Executor {
    public enum Mode: Sendable {
        /// All or nothing: on the first failure, undo in reverse what this run did (see
        /// `Action.inverse(before:)`), computed from `before`, the state the plan was made from;
        /// then throw. For `prepare`/`start`, where a half-wired guest is worse than none.
        case atomic(before: ObservedState)
        /// Go on past failures and report them; never throws. For release and cleanup.
        case bestEffort
    }

    private let handle: NetlinkHandle
    /// What links this run creates are marked with: the mark of the state that records them.
    private let mark: LinkMark
    private let faultInjection: FaultInjection
    private let logger: Logger

    public init(
        handle: NetlinkHandle, mark: LinkMark = .namespaceDefault, faultInjection: FaultInjection = .none,
        logger: Logger
    ) {
        self.handle = handle
        self.mark = mark
        self.faultInjection = faultInjection
        self.logger = logger
    }

    public func apply(_ actions: [Action], _ mode: Mode) throws(ExecutionError) -> ExecutionReport {
        let messagesBefore = handle.messagesSent
        if case .failRequest(let number) = faultInjection { handle.failingRequestNumber = messagesBefore + number }
        defer { handle.failingRequestNumber = nil }

        var report = ExecutionReport()
        for (index, action) in actions.enumerated() {
            do throws(NetlinkError) {
                if case .failAction(index) = faultInjection {
                    throw NetlinkError(
                        .errno(EIO), operation: "apply '\(action)'", links: action.links.map(\.rawValue),
                        kernelMessage: "fault injected by test")
                }
                if case .crashAtAction(index) = faultInjection { fatalError("fault injected by test: crash at action \(index)") }
                if let created = try perform(action) { report.createdLinks.append(created) }
                report.appliedActions.append(action)
                if case .stopAfterAction(index) = faultInjection { raise(SIGSTOP) }
            } catch {
                let failure = ActionFailure(index: index, action: action, error: error)
                logger.error("\(failure)")
                switch mode {
                case .bestEffort:
                    report.failures.append(failure)
                case .atomic(let before):
                    handle.failingRequestNumber = nil
                    let rollback = undo(report.appliedActions, before: before)
                    report.messagesSent = handle.messagesSent - messagesBefore
                    throw ExecutionError(
                        failure: failure, rollbackFailures: rollback.failures,
                        irreversible: rollback.irreversible, report: report)
                }
            }
        }
        report.messagesSent = handle.messagesSent - messagesBefore
        return report
    }

    /// Returns the link the action created, if it created one.
    private func perform(_ action: Action) throws(NetlinkError) -> ExecutionReport.CreatedLink? {
        switch action {
        case .createBridge(let spec):
            return .init(name: spec.name, index: try handle.createBridge(spec, mark: mark))
        case .createVLANLeg(let name, let parent, let vid):
            return .init(name: name, index: try handle.createVLANLeg(name: name, parent: parent, vid: vid, mark: mark))
        case .enslave(let link, let bridge): try handle.enslave(link, to: bridge)
        case .releaseFromBridge(let link): try handle.release(link)
        case .setUp(let link): try handle.setUp(link)
        case .setDown(let link): try handle.setDown(link)
        case .setVLANFiltering(let bridge, let enabled): try handle.setVLANFiltering(bridge: bridge, enabled: enabled)
        case .setBridgeNetfilter(let bridge, let enabled): try handle.setBridgeNetfilter(bridge: bridge, enabled: enabled)
        case .addPortVLANs(let port, let vlans): try handle.addPortVLANs(port, vlans)
        case .removePortVLANs(let port, let vlans): try handle.removePortVLANs(port, vlans)
        case .setMTU(let link, let mtu): try handle.setMTU(link, mtu)
        case .deleteLink(let link): try handle.delete(link)
        case .setDefaultPVID(let bridge, let to, let keeping, let spare):
            try handle.setDefaultPVID(bridge: bridge, to: to, keeping: keeping, via: spare)
        }
        return nil
    }

    /// Applies the inverses of `applied` in reverse order, going on past failures: a partial undo
    /// is better than none.
    private func undo(_ applied: [Action], before: ObservedState) -> (failures: [ActionFailure], irreversible: [Action]) {
        var failures: [ActionFailure] = []
        var irreversible: [Action] = []
        for action in applied.reversed() {
            guard let inverse = action.inverse(before: before) else {
                logger.error("cannot undo '\(action)'")
                irreversible.append(action)
                continue
            }
            for undoing in inverse {
                do {
                    _ = try perform(undoing)
                } catch {
                    let failure = ActionFailure(index: nil, action: undoing, error: error)
                    logger.error("rollback: \(failure)")
                    failures.append(failure)
                }
            }
        }
        return (failures, irreversible)
    }
}

/// Test seam: makes one step of a run fail as if the kernel had refused it (EIO), to prove that
/// atomic runs leave the namespace as they found it.
public enum FaultInjection: Hashable, Sendable {
    case none
    /// The action at this index (0-based) fails before anything is sent for it.
    case failAction(Int)
    /// The netlink request with this number (0-based, counted from the start of the run: dumps,
    /// index lookups and marking requests included) fails unsent. Reaches inside multi-message
    /// actions (a bridge created but not yet marked).
    case failRequest(Int)
    /// The process stops itself (SIGSTOP) right after the action at this index succeeded: a test
    /// can then SIGKILL it at a known point mid-apply (the kernel changed, the state not yet stored).
    case stopAfterAction(Int)
    /// The process crashes (a Swift runtime trap) before the action at this index.
    case crashAtAction(Int)

    /// The hook's and CLI's seam, read from `VLANWIRE_TEST_FAULT` (`fail-action:K`,
    /// `fail-request:K`, `stop-after-action:K`, `crash-at-action:K`) in DEBUG builds only: a release
    /// build ignores the variable, so the product never takes orders from its environment.
    package static func fromTestEnvironment() -> FaultInjection {
        #if DEBUG
            guard let raw = getenv("VLANWIRE_TEST_FAULT") else { return .none }
            let text = String(cString: raw)
            guard let colon = text.firstIndex(of: ":"), let number = Int(text[text.index(after: colon)...]), number >= 0 else {
                return .none
            }
            switch text[..<colon] {
            case "fail-action": return .failAction(number)
            case "fail-request": return .failRequest(number)
            case "stop-after-action": return .stopAfterAction(number)
            case "crash-at-action": return .crashAtAction(number)
            default: return .none
            }
        #else
            return .none
        #endif
    }
}

/// What a run did.
public struct ExecutionReport: Equatable, Sendable {
    public struct CreatedLink: Hashable, Sendable {
        public var name: LinkName
        public var index: Int32
    }

    /// Links this run created, in order (also those a failed atomic run deleted again).
    public var createdLinks: [CreatedLink] = []
    /// Actions that succeeded, in order.
    public var appliedActions: [Action] = []
    /// Best-effort runs: the actions that failed.
    public var failures: [ActionFailure] = []
    /// Netlink requests the run sent (rollback included).
    public var messagesSent = 0

    public init() {}
}

/// One action that failed, and why.
public struct ActionFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// Position in the plan; nil for an action of a rollback.
    public var index: Int?
    public var action: Action
    public var error: NetlinkError

    public var description: String {
        "\(error)" + (index.map { " (action \($0 + 1): \(action))" } ?? " (undoing: \(action))")
    }
}

/// An atomic run failed: which action, why, and how the undo went.
public struct ExecutionError: Error, Sendable, CustomStringConvertible {
    public var failure: ActionFailure
    /// Inverse actions that failed during the undo.
    public var rollbackFailures: [ActionFailure]
    /// Applied actions that could not be undone at all (see `Action.inverse(before:)`).
    public var irreversible: [Action]
    /// What had been applied before the failure (all of it undone when `rollbackClean`).
    public var report: ExecutionReport

    /// Every applied action was undone without error.
    public var rollbackClean: Bool { rollbackFailures.isEmpty && irreversible.isEmpty }

    public var description: String {
        var text = "\(failure)"
        if report.appliedActions.isEmpty {
            text += "; nothing had been changed"
        } else if rollbackClean {
            text += "; the \(report.appliedActions.count) earlier action(s) were undone"
        } else {
            text += "; undo incomplete:"
            for failed in rollbackFailures { text += "\n  \(failed)" }
            for action in irreversible { text += "\n  cannot undo: \(action)" }
        }
        return text
    }
}
