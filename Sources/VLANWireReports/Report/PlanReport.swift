package import VLANWire

/// A plan as `vlanwire plan` shows it: JSON for scripts, text for people.
package struct PlanReport: Codable, Equatable, Sendable {
    package struct NIC: Codable, Equatable, Sendable {
        package var mac: String?
        package var type: String
        package var source: String
        package var managed: Bool
        package var policy: String?
        package var policySource: String?
        package var uplink: String?
        package var mode: String?
        package var bridge: String?
        package var reason: String?
    }

    package struct Step: Codable, Equatable, Sendable {
        /// The equivalent iproute2 command(s).
        package var command: String
        package var links: [String]
    }

    package var guest: String
    package var operation: String
    package var nics: [NIC]
    package var actions: [Step]
    package var notes: [String]

    package init(_ plan: Plan) {
        guest = plan.guest
        operation = plan.operation.rawValue
        nics = plan.nics.map { nic in
            let interface = nic.interface
            var source = interface.sourceBridge.map { "bridge \($0)" } ?? interface.sourceDevice.map { "dev \($0)" } ?? "-"
            if let network = interface.sourceNetwork {
                source = "network \(network)" + (interface.portgroup.map { " portgroup \($0)" } ?? "")
            }
            return NIC(
                mac: interface.mac?.description, type: interface.type, source: source.escapedForDisplay,
                managed: nic.wiring != nil, policy: nic.wiring.map { $0.policy?.description ?? "none" },
                policySource: nic.wiring?.source.description, uplink: nic.wiring?.uplink.label,
                mode: nic.wiring?.uplink.mode.rawValue, bridge: nic.wiring?.bridge.rawValue,
                reason: nic.unmanagedReason)
        }
        actions = plan.actions.map { Step(command: $0.description, links: $0.links.map(\.rawValue)) }
        notes = plan.notes
    }

    package var text: String {
        var out =
            "guest \(guest.escapedForDisplay), operation \(operation): \(nics.count) NIC\(nics.count == 1 ? "" : "s"), \(actions.count) action\(actions.count == 1 ? "" : "s")\n"
        if !nics.isEmpty {
            var table = TextTable(["MAC", "SOURCE", "POLICY", "FROM", "UPLINK", "TAP BRIDGE"])
            for nic in nics {
                if nic.managed {
                    table.append([
                        nic.mac ?? "-", nic.source, nic.policy ?? "-", nic.policySource ?? "-",
                        "\(nic.uplink ?? "-") \(nic.mode ?? "")", nic.bridge ?? "-",
                    ])
                } else {
                    table.append([nic.mac ?? "-", nic.source, "unmanaged", nic.reason ?? "", "-", "-"])
                }
            }
            out += table.render(indent: "  ") + "\n"
        }
        for (index, step) in actions.enumerated() { out += "  \(index + 1). \(step.command)\n" }
        if actions.isEmpty { out += "  nothing to change\n" }
        for note in notes { out += "  note: \(note)\n" }
        return out
    }
}
