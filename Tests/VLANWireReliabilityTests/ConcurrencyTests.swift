import Foundation
import Testing
import VLANWire
import VLANWireHost
import VLANWireNetlink
import VLANWireTestSupport

/// Runs `count` closures on separate threads at once and waits for all of them.
func concurrently<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) -> [Result<T, any Error>] {
    let results = Slots<T>(count)
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        Thread {
            results.set(index, Result { try body(index) })
            group.leave()
        }.start()
    }
    group.wait()
    return results.all
}

/// Results that threads fill in, one slot each.
final class Slots<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Swift.Result<T, any Error>?]
    init(_ count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: Swift.Result<T, any Error>) { lock.withLock { values[index] = value } }
    var all: [Swift.Result<T, any Error>] { lock.withLock { values.map { $0! } } }
}

/// Issue 9, part 3: 32 hook processes at once. This kernel has no 802.1Q, so the guests here are
/// trunk guests whose taps the hook moves into the shared trunk bridge (every hook reads, locks,
/// plans, changes links and rewrites the one state file); the access-bridge variant, where hooks
/// create and delete shared access bridges and VLAN legs, is `LabVLANConcurrencyTests` (lab VM).
extension Reliability {
    @Suite("Concurrent hook processes", .enabled(if: Host.canRunBinary, Host.binaryComment), .serialized)
    struct ConcurrencyTests {
        static let guests = 32

        static func mac(_ index: Int) -> String { String(format: "52:54:00:10:00:%02x", index) }

        static func guest(_ index: Int) -> [UInt8] {
            Array(
                """
                <domain type='kvm'><name>g\(index)</name>
                <metadata><vw:vlans xmlns:vw="urn:vlanwire:1"><vw:interface mac='\(mac(index))'><vw:vlan trunk='yes' tags='1,5,10'/></vw:interface></vw:vlans></metadata>
                <devices><interface type='bridge'><mac address='\(mac(index))'/><source bridge='br0'/><target dev='vnet\(index)'/></interface></devices></domain>
                """.utf8)
        }

        @Test func thirtyTwoHooksAtOnceLoseNothing() throws {
            try withScene { scene in
                try scene.ip("link", "add", "eth0", "type", "veth", "peer", "name", "sw0")
                try scene.ip("link", "add", "br0", "type", "bridge")
                try scene.ip("link", "set", "eth0", "master", "br0")
                try scene.ip("link", "add", "userbr", "type", "bridge")
                for index in 0..<Self.guests { try scene.tap("vnet\(index)", mac: Self.mac(index), in: index % 2 == 0 ? "userbr" : nil) }
                let config = try temporaryFile(
                    "vlanwire.toml", Array("[[uplink]]\ninterface = \"eth0\"\nbridge = \"br0\"\nmode = \"classic\"\nvlans = \"1,5,10\"\n".utf8))
                defer { unlink(config) }
                let sceneRef = scene
                func hooks(_ operation: String, _ indexes: [Int]) -> [ProcessRun] {
                    concurrently(indexes.count) { position in
                        let index = indexes[position]
                        return try sceneRef.hook(guest: "g\(index)", operation, xml: Self.guest(index), config: config)
                    }.map { result in
                        switch result {
                        case .success(let value): return value
                        case .failure(let error): return ProcessRun(status: -1, stdout: "", stderr: "\(error)", seconds: 0, timedOut: false)
                        }
                    }
                }
                func check(_ results: [ProcessRun], _ what: String) {
                    for result in results {
                        #expect(!result.timedOut, "\(what): a hook hung (deadlock?)")
                        #expect(result.status == 0, "\(what): \(result.stderr)")
                    }
                }
                // Round 1: all 32 start at once.
                check(hooks("prepare", Array(0..<Self.guests)), "prepare")
                check(hooks("start", Array(0..<Self.guests)), "start")
                var kernel = try scene.snapshot()
                var state = try storedState(scene.stateDirectory)
                #expect(state.guests.count == Self.guests, "lost records: \(Self.guests - state.guests.count)")
                for index in 0..<Self.guests {
                    #expect(kernel.link(named: "vnet\(index)")?.master == "br0", "vnet\(index)")
                    #expect(state.guest(named: "g\(index)")?.nics.first?.tap == link("vnet\(index)"))
                }
                // Round 2: half stop while the other half start again (reconnect) — mixed at once.
                let stopping = Array(stride(from: 0, to: Self.guests, by: 2))
                let staying = Array(stride(from: 1, to: Self.guests, by: 2))
                let mixed = concurrently(Self.guests) { position in
                    let index = position < stopping.count ? stopping[position] : staying[position - stopping.count]
                    let operation = position < stopping.count ? "release" : "reconnect"
                    return try sceneRef.hook(guest: "g\(index)", operation, xml: Self.guest(index), config: config)
                }
                for result in mixed {
                    let value = try result.get()
                    #expect(!value.timedOut && value.status == 0, "\(value.stderr)")
                }
                state = try storedState(scene.stateDirectory)
                #expect(Set(state.guests.map(\.name)) == Set(staying.map { "g\($0)" }))
                kernel = try scene.snapshot()
                #expect(kernel.link(named: "br0") != nil && kernel.link(named: "userbr") != nil)
                // Round 3: the rest stop at once.
                check(hooks("release", staying), "release")
                #expect(try storedState(scene.stateDirectory).guests.isEmpty)
                Figures.report("concurrent hook runs", Self.guests * 4)
            }
        }

        /// The lock wait is bounded and says so: a holder that never lets go makes the next run fail
        /// with a clear error after the timeout, not hang.
        @Test func aLockHeldForeverEndsInAClearErrorNotAHang() throws {
            let directory = "/tmp/vwr-lock-\(getpid())"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let store = StateStore(directory: directory, lockTimeout: .milliseconds(300))
            try store.withLock { _ in (VLANWireState(), ()) }
            let holder = open(directory + "/lock", O_RDWR)
            defer { close(holder) }
            #expect(flock(holder, LOCK_EX) == 0)
            let start = ContinuousClock.now
            do {
                try store.withLock { _ in (nil, ()) }
                Issue.record("the lock was taken while held")
            } catch {
                #expect("\(error)".contains("held the lock for more than"), "\(error)")
            }
            #expect(ContinuousClock.now - start < .seconds(5))
            #expect(StateStore(directory: directory).lockTimeout == .seconds(30), "the product's bound")
        }

        /// A queue that moves is waited for: holders that change (each writes its ticket) restart
        /// the bound, so a waiter behind several quick holders gets the lock although the total
        /// wait exceeds one bound.
        @Test func aMovingQueueIsWaitedForBeyondOneBound() throws {
            let directory = "/tmp/vwr-queue-\(getpid())"
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let store = StateStore(directory: directory, lockTimeout: .milliseconds(400))
            try store.withLock { _ in (VLANWireState(), ()) }
            let holder = open(directory + "/lock", O_RDWR)
            defer { close(holder) }
            #expect(flock(holder, LOCK_EX) == 0)
            let waiter = Slots<Bool>(1)
            let done = DispatchSemaphore(value: 0)
            Thread {
                waiter.set(0, Result { try store.withLock { _ in (nil, true) } })
                done.signal()
            }.start()
            // Six "holders" in turn, 250 ms each: 1.5 s in all, more than the 400 ms bound.
            for turn in 0..<6 {
                Thread.sleep(forTimeInterval: 0.25)
                let ticket = Array("\(90000 + turn) turn\n".utf8) + [UInt8](repeating: 32, count: 50)
                _ = ticket.withUnsafeBytes { pwrite(holder, $0.baseAddress, $0.count, 0) }
            }
            flock(holder, LOCK_UN)
            done.wait()
            #expect(try waiter.all[0].get() == true)
        }

        /// Link dumps while links are added and removed (as concurrent hooks do): the kernel flags
        /// some dumps NLM_F_DUMP_INTR; each is read again (seen as a snapshot costing more than one
        /// request), so no snapshot fails. Bounded: stops after 5 re-reads or 20 s.
        @Test func dumpsInterruptedByConcurrentChangesAreReadAgain() throws {
            try withScene { scene in
                for index in 0..<100 { try scene.ip("link", "add", "d\(index)", "type", "veth", "peer", "name", "d\(index)p") }
                let stop = Slots<Bool>(1)
                stop.set(0, .success(false))
                let namespace = try scene.namespace()
                let logger = scene.logger
                let churn = Thread {
                    guard let handle = try? NetlinkHandle(namespace: namespace, logger: logger) else { return }
                    var round = 0
                    while (try? stop.all[0].get()) == false {
                        let name = link("churn\(round % 4)")
                        _ = try? handle.createBridge(BridgeSpec(name: name))
                        _ = try? handle.delete(name)
                        round += 1
                        usleep(200)
                    }
                }
                let handle = try scene.handle()
                var failures: [String] = []
                var reread = 0
                var snapshots = 0
                let quiet = handle.messagesSent
                _ = try handle.snapshot()
                let requestsPerSnapshot = handle.messagesSent - quiet
                churn.start()
                defer {
                    stop.set(0, .success(true))
                    Thread.sleep(forTimeInterval: 0.1)
                }
                let deadline = ContinuousClock.now + .seconds(20)
                while reread < 5 && ContinuousClock.now < deadline {
                    let before = handle.messagesSent
                    do { _ = try handle.links() } catch { failures.append("\(error)") }
                    snapshots += 1
                    if handle.messagesSent - before > requestsPerSnapshot { reread += 1 }
                }
                #expect(failures.isEmpty, "\(failures.count) of \(snapshots) snapshots failed: \(failures.first ?? "")")
                #expect(reread > 0, "no dump was interrupted in \(snapshots) snapshots: the test did not exercise NLM_F_DUMP_INTR")
                Figures.report("interrupted link dumps read again (of \(snapshots) snapshots)", reread)
            }
        }
    }
}
