package import VLANWire
package import VLANWireTemplates

/// What `setPort` did (`vlanwire set-port`), for printing and `--json`.
package struct PortChange: Equatable, Sendable, Codable, CustomStringConvertible {
    /// What happened to one definition's metadata.
    package enum Outcome: String, Equatable, Sendable, Codable {
        /// The metadata element was written (or removed, when no entry was left).
        case updated
        /// It already said this; nothing was written.
        case unchanged
        /// `live` was not asked for.
        case notRequested = "not-requested"
        /// `live` was asked for, but the guest is not running: there is no live definition.
        case notRunning = "not-running"
    }

    package var guest: String
    package var mac: MACAddress
    /// The NIC's metadata policy now; nil when cleared.
    @NullWhenAbsent package var policy: PortPolicy?
    /// The NIC's policy in the persistent definition before; nil when it had no entry.
    @NullWhenAbsent package var previous: PortPolicy?
    package var persistent: Outcome
    package var live: Outcome
    /// Whether the guest is running.
    package var running: Bool
    /// With `live` on a running guest: what re-applying the guest's ports did (the metadata alone
    /// does not move a running tap's VLANs). Filled by the caller that wires the kernel
    /// (`vlanwire set-port --live`); nil otherwise.
    @NullWhenAbsent package var reapplied: GuestReconcile?
    /// The guest has no NIC with this MAC yet: the policy applies once one is hot-plugged.
    package var pending: Bool

    package init(
        guest: String, mac: MACAddress, policy: PortPolicy?, previous: PortPolicy?, persistent: Outcome,
        live: Outcome, running: Bool, reapplied: GuestReconcile? = nil, pending: Bool = false
    ) {
        self.pending = pending
        self.guest = guest
        self.mac = mac
        self.policy = policy
        self.previous = previous
        self.persistent = persistent
        self.live = live
        self.running = running
        self.reapplied = reapplied
    }

    /// Two lines (`(was …)` only when the persistent policy changed), then, after `--live` on a
    /// running guest, what re-applying its ports did:
    /// ```
    /// router1, NIC 52:54:00:00:00:01: trunk:1,5,10-20 native:1 (was access:5)
    /// persistent definition: updated; live definition: updated
    /// running guest: 2 actions applied
    ///   1. bridge vlan del dev vnet0 vid 5
    ///   2. bridge vlan add dev vnet0 vid 1 pvid untagged; bridge vlan add dev vnet0 vid 5; bridge vlan add dev vnet0 vid 10-20
    /// ```
    package var description: String {
        var lines = [
            "\(guest.escapedForDisplay), NIC \(mac): \(policy?.description ?? "no vlanwire policy")"
                + (previous == policy ? "" : " (was \(previous?.description ?? "no vlanwire policy"))")
        ]
        let liveText =
            switch live {
            case .updated: "updated"
            case .unchanged: "unchanged"
            case .notRequested:
                running ? "not changed (the running guest keeps its ports until restarted; --live changes it now)" : "none (not running)"
            case .notRunning: "none (not running)"
            }
        lines.append("persistent definition: \(persistent.rawValue); live definition: \(liveText)")
        if pending, policy != nil {
            lines.append("pending: the guest has no NIC with this MAC yet; the policy applies when one is hot-plugged (vlanwire watch wires it)")
        }
        if let reapplied {
            var text = reapplied.text
            // "GUEST: ..." -> "running guest: ..."
            if let colon = text.firstIndex(of: ":"), text[..<colon] == reapplied.guest.escapedForDisplay {
                text = "running guest" + text[colon...]
            }
            lines.append(String(text.dropLast(text.hasSuffix("\n") ? 1 : 0)))
        }
        return lines.joined(separator: "\n")
    }

    enum CodingKeys: String, CodingKey {
        case guest, mac, policy, previous, persistent, live, running, reapplied, pending
    }

}

extension LibvirtConnection {
    /// Sets (or clears) the vlanwire port policy of one guest NIC in the guest's metadata.
    ///
    /// Validates everything before writing anything: the guest exists (`guest` is a name or a
    /// UUID), the MAC is one of its NICs in the persistent definition (and, with `live` on a
    /// running guest, in the live one), the NIC is one vlanwire wires, the existing metadata reads
    /// cleanly, and the rendered element reads back as intended. Then the persistent definition's
    /// element is replaced (`virDomainSetMetadata`, `VIR_DOMAIN_AFFECT_CONFIG`), keeping the other
    /// NICs' entries, and, with `live` on a running guest, the live definition's likewise (from its
    /// own current entries). Each is read back and checked. Nothing is written for a definition
    /// that already says this.
    ///
    /// `live` changes the metadata only: moving a running tap's VLANs is the caller's job (it needs
    /// the kernel: `vlanwire set-port --live` re-applies as `vlanwire reconcile GUEST` does, and
    /// stores what that did in the result's `reapplied`).
    ///
    /// Not atomic with respect to other writers of the same guest's metadata (libvirt has no
    /// compare-and-set for it): concurrent `set-port`s on one guest may lose one update.
    ///
    /// - Throws: `Refusal`, one line naming the guest, the MAC and the cause. Refusals from
    ///   validation mean nothing was written; a libvirt failure while writing says what was
    ///   already written.
    package func setPort(
        guest: String, mac: MACAddress, request: PortRequest, live: Bool,
        templates: XMLTemplates
    ) throws(Refusal) -> PortChange {
        func failure(_ cause: String, fix: String? = nil) -> Refusal {
            Refusal(Problem(guest: guest, mac: mac, cause: cause, fix: fix))
        }
        // Validation: reads only.
        let domain: LibvirtDomain
        do { domain = try lookUpGuest(guest) } catch {
            if error.code == .noDomain {
                throw failure("no such guest on \(uri)", fix: "virsh -c \(uri) list --all lists the guests")
            }
            throw failure(error.description)
        }
        let running: Bool
        let persistentEdit: PortMetadataEdit
        var liveEdit: PortMetadataEdit?
        do {
            running = try domain.isActive()
            persistentEdit = try domain.domainDescription(.inactive).portMetadataEdit(mac: mac, request: request)
            if live, running {
                liveEdit = try domain.domainDescription(.current).portMetadataEdit(mac: mac, request: request)
            }
        } catch let error as Refusal {
            throw error
        } catch {
            throw failure("\(error); nothing written")
        }
        let persistentElement = try persistentEdit.renderedAndChecked(templates: templates)
        let liveElement = try liveEdit?.renderedAndChecked(templates: templates)

        // Writing: persistent first, then live; each read back.
        var change = PortChange(
            guest: domain.name, mac: mac, policy: request.policy, previous: persistentEdit.previous,
            persistent: .unchanged, live: live ? (running ? .unchanged : .notRunning) : .notRequested,
            running: running, pending: persistentEdit.pending)
        if persistentEdit.changesMetadata {
            do {
                try domain.setMetadata(persistentElement, scope: .config)
            } catch {
                throw failure("\(error.description); nothing written")
            }
            change.persistent = .updated
        }
        try domain.verifyPort(mac: mac, policy: request.policy, in: .inactive, guest: guest)
        if let liveEdit {
            if liveEdit.changesMetadata {
                do { try domain.setMetadata(liveElement, scope: .live) } catch {
                    let written =
                        change.persistent == .updated
                        ? "the persistent definition was updated, but the live one was not"
                        : "the live definition was not updated"
                    throw failure("\(written): \(error.description)")
                }
                change.live = .updated
            }
            try domain.verifyPort(mac: mac, policy: request.policy, in: .current, guest: guest)
        }
        return change
    }

    /// The guest called `guest`, or with that UUID.
    func lookUpGuest(_ guest: String) throws(LibvirtError) -> LibvirtDomain {
        do { return try domain(named: guest) } catch {
            guard error.code == .noDomain, guest.utf8.count == 36, guest.utf8.filter({ $0 == UInt8(ascii: "-") }).count == 4
            else { throw error }
            do { return try domain(uuid: guest) } catch let byUUID {
                throw byUUID.code == .invalidArgument ? error : byUUID
            }
        }
    }
}

extension LibvirtDomain {
    /// The domain's XML in `form`, read by vlanwire's domain reader (its metadata validated).
    /// Throws `Refusal` for XML the reader refuses, `LibvirtError` when libvirt fails.
    package func domainDescription(_ form: LibvirtXMLForm) throws -> DomainDescription {
        try DomainDescription(xml: Array(xml(form).utf8), guestHint: name)
    }

    /// Reads the metadata back and checks that the NIC's policy is `policy`.
    func verifyPort(mac: MACAddress, policy: PortPolicy?, in form: LibvirtXMLForm, guest: String) throws(Refusal) {
        let which = form == .inactive ? "persistent" : "live"
        let stored: PortPolicy?
        do { stored = try domainDescription(form).metadata[mac] } catch {
            throw Refusal(
                Problem(
                    guest: guest, mac: mac,
                    cause: "the \(which) definition's metadata was written, but reading it back failed: \(error)"))
        }
        guard stored == policy else {
            throw Refusal(
                Problem(
                    guest: guest, mac: mac,
                    cause:
                        "the \(which) definition's metadata reads back as \(stored?.description ?? "no entry"), not \(policy?.description ?? "no entry")"
                ))
        }
    }
}
