import Foundation
import Testing
import VLANWire
import VLANWireHost
import VLANWireNetlink
import VLANWireTestSupport

/// Two vlanwire states in one network namespace (the host's `/run/vlanwire` beside a
/// `VLANWIRE_STATE_DIR`, as in CI's sandboxed libvirtd beside the tests' own states): each adopts,
/// rebuilds from and deletes only links with its own mark. Before, a release by one adopted the
/// other's marked links as orphans and deleted them (the intermittent LibvirtdReconcileTests failure).
@Suite(.enabled(if: Host.isRoot, Host.rootComment), .serialized)
struct StateOwnershipTests {
    @Test func marksNameTheirState() {
        #expect(StateStore(directory: "/run/vlanwire").mark == .namespaceDefault)
        #expect(StateStore(directory: "/run/vlanwire/netns/blue").mark == .namespaceDefault)
        #expect(StateStore(directory: "/run/vlanwire/netns/blue/x").mark.alias == "vlanwire:/run/vlanwire/netns/blue/x")
        #expect(StateStore(directory: "/tmp/other").mark.alias == "vlanwire:/tmp/other")
        #expect(LinkMark.stateDirectory(of: "vlanwire:/tmp/other") == "/tmp/other")
        let long = "/tmp/" + String(repeating: "d", count: 300)
        let hashed = StateStore(directory: long).mark
        #expect(hashed.alias.hasPrefix("vlanwire:#") && hashed.alias.utf8.count <= 255)
        #expect(hashed == StateStore(directory: long).mark, "stable")
        for alias in ["vlanwire", "vlanwire:/tmp/other", hashed.alias] {
            #expect(ObservedLink(index: 1, name: "x", alias: alias).isMarkedByVLANWire, "diagnosis sees every vlanwire mark")
        }
        #expect(!ObservedLink(index: 1, name: "x", alias: "vlanwire-ish").isMarkedByVLANWire)
        #expect(!ObservedLink(index: 1, name: "x", alias: "vlanwire:/tmp/other").isMarked(by: .namespaceDefault))
    }

    @Test func aStateNeverAdoptsNorDeletesAnotherStatesLinks() throws {
        try withScene { scene in
            let first = StateStore(directory: NSTemporaryDirectory() + "vw-own-a-" + scene.name)
            let second = StateStore(directory: NSTemporaryDirectory() + "vw-own-b-" + scene.name)
            defer {
                try? FileManager.default.removeItem(atPath: first.directory)
                try? FileManager.default.removeItem(atPath: second.directory)
            }
            // Each state created one bridge (for real, through the handle, marked) and lost track of it
            // (a run killed before storing its state): an orphan for its own state only.
            let handle = try scene.handle()
            try handle.createBridge(BridgeSpec(name: link("br0v7")), mark: first.mark)
            try handle.createBridge(BridgeSpec(name: link("br0v8")), mark: second.mark)
            let links = try scene.iproute2Links()
            #expect(links["br0v7"]?["ifalias"] as? String == first.mark.alias)
            #expect(links["br0v8"]?["ifalias"] as? String == second.mark.alias)
            for store in [first, second] { try store.withLock { _ in (VLANWireState(), ()) } }

            // A release through the first state (a guest it does not know) adopts and deletes only its own orphan.
            let release = Wiring(namespace: try scene.namespace(), store: first, config: nil, logger: scene.logger)
                .release(guest: "someone")
            #expect(release.plan.deletions == [link("br0v7")])
            var after = try scene.handle().snapshot()
            #expect(after.link(named: "br0v7") == nil)
            #expect(after.link(named: "br0v8") != nil, "the second state's bridge survives the first state's release")
            #expect(first.peek()?.created(link("br0v8")) == nil, "and is never adopted by it")

            // A lost state file is rebuilt from the state's own marks only.
            try FileManager.default.removeItem(atPath: first.directory + "/state.json")
            _ = Wiring(namespace: try scene.namespace(), store: first, config: nil, logger: scene.logger).release(guest: "someone")
            #expect(first.peek()?.createdLinks.isEmpty == true, "\(String(describing: first.peek()))")
            #expect(try scene.handle().snapshot().link(named: "br0v8") != nil)

            // The second state still owns its orphan: adopted and deleted by its own release.
            let own = Wiring(namespace: try scene.namespace(), store: second, config: nil, logger: scene.logger)
                .release(guest: "someone")
            #expect(own.plan.deletions == [link("br0v8")])
            after = try scene.handle().snapshot()
            #expect(after.link(named: "br0v8") == nil)
        }
    }
}
