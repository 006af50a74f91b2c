import VLANWire

extension GuestTrace {
    /// For people: per NIC its path, then per VLAN both directions as hop tables, then notes.
    package var text: String {
        var out = ""
        for nic in nics {
            out +=
                "guest \(guest.escapedForDisplay), NIC \(nic.mac ?? nic.type)"
                + (nic.tap.map { ", tap \($0.escapedForDisplay)" } ?? "") + (nic.bridge.map { " in \($0)" } ?? "") + "\n"
            out += "  policy: \(nic.policy ?? "none")" + (nic.policySource.map { " (\($0))" } ?? "") + "\n"
            out += "  path: \(nic.path.escapedForDisplay)\n"
            for flow in nic.flows {
                for passage in [flow.inbound, flow.outbound] {
                    let way = passage.direction == .inbound ? "inbound (wire -> guest)" : "outbound (guest -> wire)"
                    let native = flow.native.map { " (native, \($0) towards the guest)" } ?? ""
                    out += "  VLAN \(flow.vlan)\(native), \(way): \(passage.summary)\n"
                    var table = TextTable(["HOP", "LINK", "WHAT", "STATE", "FRAME", "CAPTURE"])
                    for (index, hop) in passage.hops.enumerated() {
                        table.append(["\(index + 1)", hop.link.escapedForDisplay, hop.role, hop.state, hop.frame, hop.capture ?? "-"])
                        if let drop = hop.drop { table.append(["", "", "", "", "", "DROPPED: " + drop]) }
                    }
                    out += table.render(indent: "    ") + "\n"
                }
            }
            for note in nic.notes { out += "  note: \(note.withoutControlCharacters)\n" }
        }
        return out
    }
}
