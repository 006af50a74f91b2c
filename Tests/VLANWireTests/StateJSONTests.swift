import Testing
import VLANWire
import VLANWireReports
import VLANWireTestSupport

/// The state files' hand-written JSON: a guest's record is the bytes JSONEncoder(.sortedKeys)
/// writes, and each side reads what the other wrote; `state.json` holds links and their users.
@Suite("State file JSON")
struct StateJSONTests {

    static let states: [VLANWireState] = [
        .empty,
        VLANWireState(
            createdLinks: [
                CreatedLink(name: link("br0v5"), index: 12, kind: "bridge"),
                CreatedLink(name: link("br0.5"), index: 13, kind: "vlan"),
            ],
            guests: [], usersUnknown: true),
        VLANWireState(
            createdLinks: [CreatedLink(name: link("br0v5"), index: 12, kind: "bridge")],
            guests: [
                GuestRecord(
                    name: "web1", uuid: "6c9d0d1e-7a11-4c57-9b9e-000000000001",
                    nics: [
                        NICRecord(
                            mac: mac("52:54:00:00:00:01"), policy: .access(vid(5)), bridge: link("br0v5"),
                            uses: [link("br0v5"), link("br0.5")], tap: link("vnet0"), tapIndex: 40),
                        NICRecord(
                            mac: mac("52:54:00:00:00:02"), policy: .trunk(tagged: vset("5,10-20"), native: vid(1)),
                            bridge: link("br0"), tap: link("vnet1"), tapIndex: 41,
                            portVLANs: PortVLANs(members: vset("1,5,10-20"), untagged: vset("1"), pvid: vid(1))),
                        NICRecord(
                            mac: mac("52:54:00:00:00:03"), policy: .trunk(tagged: vset("2-4094"), native: nil),
                            bridge: link("br0"), portVLANs: PortVLANs(members: vset("2-4094"))),
                        NICRecord(mac: mac("52:54:00:00:00:04"), policy: nil, bridge: nil),
                    ]),
                // Guest names are libvirt's: anything but '/' in practice; escaping is tested anyway.
                GuestRecord(name: "odd \"name\" \\ / tab\t nl\n bell\u{07} é 🦊", uuid: nil, nics: []),
            ]),
    ]

    @Test(arguments: 0..<states.count)
    func guestRecordsAreTheBytesJSONEncoderWrites(index: Int) throws {
        for record in Self.states[index].guests {
            #expect(String(decoding: record.stateJSON(), as: UTF8.self) == JSON.encode(record, pretty: false))
            #expect(try GuestRecord(stateJSON: record.stateJSON()) == record)
            #expect(try GuestRecord(stateJSON: Array(JSON.encode(record, pretty: true).utf8)) == record)
            #expect(try JSON.decode(GuestRecord.self, from: record.stateJSON(), what: "t") == record)
        }
    }

    /// `state.json` holds the host's part: links and their users, never the guests' records.
    @Test(arguments: 0..<states.count)
    func theHostPartRoundTripsWithoutTheGuests(index: Int) throws {
        let state = Self.states[index]
        var expected = state
        expected.guests = []
        #expect(try VLANWireState(stateJSON: state.stateJSON()) == expected)
        #expect(!String(decoding: state.stateJSON(), as: UTF8.self).contains("\"nics\""))
    }

    @Test func theHostPartIsCompactSortedJSON() {
        #expect(
            String(decoding: Self.states[2].stateJSON(), as: UTF8.self)
                == #"{"createdLinks":[{"index":12,"kind":"bridge","name":"br0v5"}],"#
                + #""linkUsers":[{"guests":["web1"],"link":"br0.5"},{"guests":["web1"],"link":"br0v5"}],"#
                + #""usersUnknown":false,"version":2}"#)
    }

    /// A version 1 file (before per-guest files) held every guest: read with them, and their users.
    @Test func readsAVersion1FileWithItsGuests() throws {
        let text =
            #"{"version":1,"usersUnknown":false,"createdLinks":[{"index":12,"kind":"bridge","name":"br0v5"}],"#
            + #""guests":[{"name":"a","nics":[{"mac":"52:54:00:00:00:01","uses":["br0v5"]}]},"#
            + #"{"name":"b","nics":[{"mac":"52:54:00:00:00:02","uses":["br0v5"]}]}]}"#
        let state = try VLANWireState(stateJSON: Array(text.utf8))
        #expect(state.version == 1)
        #expect(state.guests.map(\.name) == ["a", "b"])
        #expect(state.linkUsers == [LinkUsers(link: link("br0v5"), guests: ["a", "b"])])
        #expect(state.linksInUse(besides: "a") == [link("br0v5")])
        #expect(state.linksInUse(besides: "c") == [link("br0v5")])
    }

    @Test func aVersion2FileWithoutLinkUsersIsRefused() {
        #expect(throws: JSON.DecodeError.self) {
            try VLANWireState(stateJSON: Array(#"{"version":2,"usersUnknown":false,"createdLinks":[]}"#.utf8))
        }
    }

    @Test func ignoresUnknownKeysAndAcceptsNullForOptionals() throws {
        let text =
            #"{"version":1,"usersUnknown":false,"future":[1,{"x":null}],"createdLinks":[],"#
            + #""guests":[{"name":"g","uuid":null,"nics":[{"mac":"52:54:00:00:00:01","uses":[],"tap":null}]}]}"#
        let state = try VLANWireState(stateJSON: Array(text.utf8))
        #expect(state.guests.first?.uuid == nil)
        #expect(state.guests.first?.nics.first?.tap == nil)
    }

    @Test(arguments: [
        "",
        "{",
        "[]",
        #"{"version":1}"#,
        #"{"version":"1","usersUnknown":false,"createdLinks":[],"guests":[]}"#,
        #"{"version":1.5,"usersUnknown":false,"createdLinks":[],"guests":[]}"#,
        #"{"version":1,"usersUnknown":false,"createdLinks":[],"guests":[]} x"#,
        #"{"version":1,"usersUnknown":false,"createdLinks":[{"name":"a-name-longer-than-15","index":1,"kind":"bridge"}],"guests":[]}"#,
        #"{"version":1,"usersUnknown":false,"createdLinks":[],"guests":[{"name":"g","nics":[{"mac":"nope","uses":[]}]}]}"#,
        #"{"version":1,"usersUnknown":false,"createdLinks":[],"guests":[{"name":"g","nics":[{"mac":"52:54:00:00:00:01","uses":[],"policy":"access:0"}]}]}"#,
        #"{"version":1,"usersUnknown":false,"createdLinks":[],"guests":[{"name":"bad\u0001raw"#,
        String(repeating: "[", count: 100),
    ])
    func refusesMalformedState(text: String) {
        #expect(throws: JSON.DecodeError.self) { try VLANWireState(stateJSON: Array(text.utf8)) }
    }
}
