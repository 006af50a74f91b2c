import Testing
import VLANWire
import VLANWireReports
import VLANWireTestSupport

/// The state file's hand-written JSON must be the bytes JSONEncoder(.sortedKeys) writes, and each
/// side must read what the other wrote.
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
    func writesTheBytesJSONEncoderWrites(index: Int) {
        let state = Self.states[index]
        #expect(String(decoding: state.stateJSON(), as: UTF8.self) == JSON.encode(state, pretty: false))
    }

    @Test(arguments: 0..<states.count)
    func readsItsOwnAndJSONEncodersOutput(index: Int) throws {
        let state = Self.states[index]
        #expect(try VLANWireState(stateJSON: state.stateJSON()) == state)
        #expect(try VLANWireState(stateJSON: Array(JSON.encode(state, pretty: true).utf8)) == state)
        #expect(try JSON.decode(VLANWireState.self, from: state.stateJSON(), what: "t") == state)
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
