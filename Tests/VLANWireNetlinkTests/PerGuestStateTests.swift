import Foundation
import Testing
import VLANWire
import VLANWireHost
import VLANWireTestSupport

/// The state split per guest (issue 16): `state.json` holds the links and their users, each guest's
/// record is a file of its own, and a hook run reads and writes only its own guest's file.
/// No kernel here: the store and the planner, on a temporary directory.
@Suite("Per-guest state")
struct PerGuestStateTests {
    static let bridge = link("br0v5")

    static func record(_ name: String, uses: [LinkName] = [bridge], mac last: UInt8 = 1) -> GuestRecord {
        GuestRecord(
            name: name, uuid: nil,
            nics: [NICRecord(mac: MACAddress(octets: [0x52, 0x54, 0, 0, 0, last]), policy: .access(vid(5)), bridge: bridge, uses: uses)])
    }

    /// What a run for one guest stores: its record in, the rest as it was.
    static func storing(_ record: GuestRecord, in store: StateStore) throws {
        try store.withLock(guest: record.name) { stored in
            var next = stored ?? VLANWireState(createdLinks: [CreatedLink(name: bridge, index: 7, kind: "bridge")])
            #expect(next.guests.allSatisfy { $0.name == record.name }, "a run for \(record.name) reads only its own record")
            next.guests.removeAll { $0.name == record.name }
            next.linkUsers.removing(record.name)
            next.guests.append(record)
            for used in record.nics.flatMap(\.uses) { next.linkUsers.adding(record.name, to: used) }
            return (next, ())
        }
    }

    static func identity(_ path: String) throws -> (inode: UInt64, modified: Date) {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (try #require(attributes[.systemFileNumber] as? UInt64), try #require(attributes[.modificationDate] as? Date))
    }

    @Test func aRunForOneGuestNeitherReadsNorRewritesAnothersFile() throws {
        let directory = try TemporaryDirectory()
        let store = StateStore(directory: directory.path + "/state")
        try Self.storing(Self.record("web1"), in: store)
        let web1File = directory.path + "/state/guests/web1.json"
        let before = try Self.identity(web1File)
        for name in ["web2", "web3"] { try Self.storing(Self.record(name, mac: 2), in: store) }
        let after = try Self.identity(web1File)
        #expect(after.inode == before.inode && after.modified == before.modified, "web1's file is untouched by other guests' runs")

        let state = try storedState(store.directory)
        #expect(state.guests.map(\.name) == ["web1", "web2", "web3"])
        #expect(state.linkUsers == [LinkUsers(link: Self.bridge, guests: ["web1", "web2", "web3"])])
        #expect(store.records(guest: "web2"))
        #expect(!store.records(guest: "web4"))
    }

    /// The release of one guest sees the other users of a shared link without reading their files.
    @Test func aReleaseKeepsALinkAnotherGuestUses() throws {
        let directory = try TemporaryDirectory()
        let store = StateStore(directory: directory.path + "/state")
        try Self.storing(Self.record("web1"), in: store)
        try Self.storing(Self.record("web2", mac: 2), in: store)
        let observed = ObservedState(
            complete: true, links: [ObservedLink(index: 7, name: "br0v5", kind: "bridge", alias: store.mark.alias)])
        func releasing(_ guest: String) throws -> Plan {
            try store.withLock(guest: guest) { stored in
                let state = try #require(stored)
                #expect(state.guests.map(\.name) == [guest])
                let plan = Planner(topology: Topology.resolve(config: nil, observed: observed), observed: observed, state: state, mark: store.mark)
                    .planRelease(guest: guest)
                return (state.updated(with: plan, created: []), plan)
            }
        }
        #expect(try releasing("web1").deletions == [], "web2 still uses br0v5")
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/state/guests/web1.json"), "web1's record is gone")
        #expect(try releasing("web2").deletions == [Self.bridge], "the last user's release deletes it")
        #expect(try storedState(store.directory) == VLANWireState(createdLinks: []))
    }

    /// A host upgraded with guests running: the version 1 file (every guest in one file) moves to
    /// per-guest files on the first locked run, whatever guest it is for, keeping every user.
    @Test func aVersion1StateMovesToPerGuestFiles() throws {
        let directory = try TemporaryDirectory()
        let stateDirectory = directory.path + "/state"
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        try Data(
            (#"{"createdLinks":[{"index":7,"kind":"bridge","name":"br0v5"}],"guests":["#
                + #"{"name":"web1","nics":[{"mac":"52:54:00:00:00:01","uses":["br0v5"]}]},"#
                + #"{"name":"web 2","nics":[{"mac":"52:54:00:00:00:02","uses":["br0v5"]}]}],"usersUnknown":false,"version":1}"#).utf8
        ).write(to: URL(fileURLWithPath: stateDirectory + "/state.json"))
        let store = StateStore(directory: stateDirectory)
        #expect(store.records(guest: "web 2"), "before the move, the version 1 file answers")

        try store.withLock(guest: "web1") { stored in (stored, ()) }

        let host = try VLANWireState(stateJSON: Array(try Data(contentsOf: URL(fileURLWithPath: stateDirectory + "/state.json"))))
        #expect(host.version == 2 && host.guests.isEmpty)
        #expect(host.linkUsers == [LinkUsers(link: Self.bridge, guests: ["web 2", "web1"])])
        #expect(FileManager.default.fileExists(atPath: stateDirectory + "/guests/web%202.json"))
        #expect(store.records(guest: "web 2") && store.records(guest: "web1"))
        #expect(try storedState(stateDirectory).guests.map(\.name) == ["web 2", "web1"], "files in name order: %20 before 1")
    }

    /// Without a readable state.json the guests' files are not trusted: the next locked run starts
    /// a state (rebuilt from the kernel by its caller) and removes the files it does not list.
    @Test func aLostStateTakesTheGuestsFilesWithIt() throws {
        let directory = try TemporaryDirectory()
        let store = StateStore(directory: directory.path + "/state")
        try Self.storing(Self.record("web1"), in: store)
        try Self.storing(Self.record("web2", mac: 2), in: store)
        try FileManager.default.removeItem(atPath: store.directory + "/state.json")
        #expect(store.peek() == nil)
        try store.withLock(guest: "web3") { stored in
            #expect(stored == nil)
            return (VLANWireState(guests: [Self.record("web3", uses: [])]), ())
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: store.directory + "/guests")
        #expect(files == ["web3.json"])
    }

    /// libvirt's guest names become file names that stay inside `guests/`, distinct and short enough.
    @Test func guestNamesBecomeSafeDistinctFileNames() {
        let long = String(repeating: "é", count: 100)
        let names = ["web1", "-h", "--help", ".", "..", ".hidden", "a/b", "../../etc/passwd", "web 1 (spaces)", "x%41", "xA", long, long + "x"]
        let files = names.map(StateStore.guestFileName)
        #expect(Set(files).count == names.count, "distinct: \(files)")
        for file in files {
            #expect(!file.contains("/") && !file.hasPrefix(".") && !file.isEmpty, "\(file)")
            #expect(file.utf8.count + ".json".utf8.count <= 255, "\(file.utf8.count) bytes")
        }
        #expect(StateStore.guestFileName("web1") == "web1")
        #expect(StateStore.guestFileName("a/b") == "a%2Fb")
        #expect(StateStore.guestFileName(long) == StateStore.guestFileName(long), "stable")
    }
}
