public import VLANWire

extension StateStore {
    /// `watch.json` as `status` and `doctor` report it, with whether its writer still runs; nil
    /// when watch never ran with this state directory.
    public func watchView() -> WatchView? {
        watchStatus().map { WatchView($0, running: $0.isRunning) }
    }
}

extension WatchView {
    init(_ status: WatchStatus, running: Bool) {
        self.init(running: running, pid: status.pid, startedAt: status.startedAt, uri: status.uri, libvirt: status.libvirt,
                  repairs: status.repairs, lastRepair: status.lastRepair.map { Event(at: $0.at, line: $0.line) },
                  failures: status.failures, lastFailure: status.lastFailure.map { Event(at: $0.at, line: $0.line) })
    }
}
