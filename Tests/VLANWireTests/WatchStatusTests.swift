import Foundation
import Testing
import VLANWireTestSupport

@testable import VLANWire
@testable import VLANWireReports

private let repair = WatchStatus.Event(
    at: "2025-06-01T10:05:00Z", line: "guest 'web1', NIC 52:54:00:00:00:01, tap vnet0: port VLANs pvid 1; re-applied access:5")
private let failure = WatchStatus.Event(at: "2025-06-01T10:06:00Z", line: "guest 'db1': vlanwire metadata: invalid VLAN id '0'")

private func view(
    running: Bool = true, libvirt: String = "connected", lastRepair: WatchStatus.Event? = repair,
    lastFailure: WatchStatus.Event? = nil
) -> WatchStatus {
    WatchStatus(
        running: running, pid: 812, startedAt: "2025-06-01T10:00:00Z", uri: "qemu:///system", libvirt: libvirt,
        repairs: 3, lastRepair: lastRepair, failures: lastFailure == nil ? 0 : 1, lastFailure: lastFailure)
}

@Suite("vlanwire status: watch")
struct WatchStatusTextTests {
    @Test func runningSaysSinceWhenItsLibvirtAndItsLastRepairAndFailure() {
        #expect(
            WatchStatus.text(view(lastFailure: failure), stateDirectory: "/run/vlanwire") == """
                watch: running since 2025-06-01T10:00:00Z (pid 812); libvirt qemu:///system: connected; 3 repairs, 1 failure
                  last repair 2025-06-01T10:05:00Z: guest 'web1', NIC 52:54:00:00:00:01, tap vnet0: port VLANs pvid 1; re-applied access:5
                  last failure 2025-06-01T10:06:00Z: guest 'db1': vlanwire metadata: invalid VLAN id '0'

                """)
        #expect(
            WatchStatus.text(view(libvirt: "reconnecting: libvirtd closed the connection", lastRepair: nil), stateDirectory: "/run/vlanwire")
                == "watch: running since 2025-06-01T10:00:00Z (pid 812); libvirt qemu:///system: reconnecting: libvirtd closed the connection; 3 repairs, 0 failures\n"
        )
    }

    @Test func goneSaysWhenItLastRanAndItsPid() {
        #expect(
            WatchStatus.text(view(running: false), stateDirectory: "/run/vlanwire") == """
                watch: not running (last ran: started 2025-06-01T10:00:00Z, pid 812); 3 repairs, 0 failures
                  last repair 2025-06-01T10:05:00Z: guest 'web1', NIC 52:54:00:00:00:01, tap vnet0: port VLANs pvid 1; re-applied access:5

                """)
    }

    @Test func neverRanNamesTheStateDirectory() {
        #expect(WatchStatus.text(nil, stateDirectory: "/run/vlanwire/netns/lab1") == "watch: not running (never ran for /run/vlanwire/netns/lab1)\n")
    }

    /// watch.json is a file: a line in it cannot forge more lines of status.
    @Test func linesFromTheFileStayOneLine() {
        let text = WatchStatus.text(view(lastRepair: WatchStatus.Event(at: "now", line: "a\nwatch: running")), stateDirectory: "/run/vlanwire")
        #expect(text.split(separator: "\n").count == 2)
        #expect(text.contains("a\\nwatch: running"))
    }

    /// `status --json` keeps its keys and adds `watch`: null when watch never ran, else the view
    /// with absent events as null.
    @Test func statusDocumentAddsWatch() throws {
        let observed = ObservedState(complete: true, links: [])
        let never = StatusDocument(kernel: observed, libvirt: LibvirtView(state: .notAsked))
        let neverObject = try #require(try JSONSerialization.jsonObject(with: Data(JSON.encode(never).utf8)) as? [String: Any])
        #expect(Set(neverObject.keys) == ["complete", "links", "libvirt", "watch"])
        #expect(neverObject["watch"] is NSNull)
        #expect(try JSON.decode(StatusDocument.self, from: Array(JSON.encode(never).utf8), what: "status") == never)

        let document = StatusDocument(kernel: observed, libvirt: LibvirtView(state: .notAsked), watch: view(running: false))
        let text = JSON.encode(document)
        #expect(try JSON.decode(StatusDocument.self, from: Array(text.utf8), what: "status") == document)
        #expect(try JSON.decode(ObservedState.self, from: Array(text.utf8), what: "status") == observed)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let watch = try #require(object["watch"] as? [String: Any])
        #expect(Set(watch.keys) == ["running", "pid", "startedAt", "uri", "libvirt", "repairs", "lastRepair", "failures", "lastFailure"])
        #expect(watch["running"] as? Bool == false && watch["pid"] as? Int == 812)
        #expect((watch["lastRepair"] as? [String: Any])?["at"] as? String == "2025-06-01T10:05:00Z")
        #expect(watch["lastFailure"] is NSNull)
        // A document from before watch existed still reads.
        #expect(
            try JSON.decode(
                StatusDocument.self, from: Array(#"{"complete":true,"links":[],"libvirt":{"state":"not-asked","guests":[]}}"#.utf8),
                what: "status"
            ).watch == nil)
    }
}

@Suite("doctor: vlanwire watch")
struct DoctorWatchTests {
    func findings(_ watch: Doctor.Watch?) throws -> [Finding] {
        let wired = try WiredExample("vlan-aware")
        var doctor = wired.doctor()
        doctor.watch = watch
        return doctor.findings()
    }

    @Test func notCheckedIsNoFinding() throws {
        #expect(try findings(nil) == [])
    }

    @Test func runningAndConnectedIsNoFinding() throws {
        #expect(try findings(.seen(view())) == [])
    }

    @Test func neverRanIsInfoWithTheServiceToEnable() throws {
        let found = try findings(.neverRan)
        #expect(found.count == 1)
        #expect(found.first?.severity == .info && found.first?.check == .watch)
        #expect(
            found.first?.message
                == "vlanwire watch is not running (never ran here): hot-plugged NICs, drift and live policy changes are not repaired until `vlanwire reconcile`"
        )
        #expect(found.first?.fix?.contains("systemctl enable --now vlanwire-watch.service") == true)
    }

    @Test func goneIsInfoWithItsLastRunAndItsLastFailure() throws {
        let found = try findings(.seen(view(running: false, libvirt: "reconnecting: stale", lastFailure: failure)))
        #expect(found.map(\.severity) == [.info, .info], "a gone watch's libvirt state is stale: no warning")
        #expect(found[0].message.hasPrefix("vlanwire watch is not running (last ran: started 2025-06-01T10:00:00Z, pid 812): "))
        #expect(
            found[1].message
                == "vlanwire watch's last failure (2025-06-01T10:06:00Z, 1 since it started 2025-06-01T10:00:00Z): guest 'db1': vlanwire metadata: invalid VLAN id '0'"
        )
    }

    @Test func reconnectingIsAWarning() throws {
        let found = try findings(.seen(view(libvirt: "reconnecting: libvirtd closed the connection")))
        #expect(found.map(\.severity) == [.warning])
        #expect(found.first?.message.contains("has lost libvirt at qemu:///system (reconnecting: libvirtd closed the connection)") == true)
        let report = DoctorReport(findings: found)
        #expect(!report.hasErrors, "watch's state never fails doctor")
    }

    @Test func lastFailureOfARunningWatchIsInfo() throws {
        let found = try findings(.seen(view(lastFailure: failure)))
        #expect(found.map(\.check) == [.watch] && found.map(\.severity) == [.info])
        #expect(found.first?.message.hasSuffix(": guest 'db1': vlanwire metadata: invalid VLAN id '0'") == true)
    }
}
