package import VLANWire
package import VLANWireTemplates

/// What `defineNetworks` or `undefineNetworks` did to one network (`vlanwire networks define|undefine`).
package struct NetworkOutcome: Equatable, Sendable, Codable, CustomStringConvertible {
    package enum Action: String, Equatable, Sendable, Codable {
        /// There was no network of that name; it is defined now.
        case defined
        /// A network of that name differed in what vlanwire sets; its definition was replaced.
        case redefined
        /// A network of that name already agreed with vlanwire's definition; not touched.
        case unchanged
        /// The network's definition was removed.
        case undefined
        /// `undefine`: libvirt has no network of that name.
        case absent
        /// libvirt refused; see `error`.
        case failed
    }

    package var name: String
    package var action: Action
    /// `redefined`: what differed, one phrase each (`portgroup router added`).
    package var changes: [String]
    /// The network was started by this call (`--start`).
    package var started: Bool
    /// Autostart was switched on by this call (`--autostart`).
    package var autostartEnabled: Bool
    /// `undefine`: the network was running and was stopped first.
    package var stopped: Bool
    /// Whether the network is running afterwards (nil when unknown, e.g. after a failure; written
    /// as `null` in JSON).
    @NullWhenAbsent package var active: Bool?
    /// The network runs with a definition that differs from vlanwire's (it was redefined while
    /// running, now or earlier): libvirt keeps running the old one until the network is restarted
    /// (`virsh net-destroy NAME; virsh net-start NAME`).
    package var restartNeeded: Bool
    /// libvirt's error, for `failed` (`null` in JSON otherwise).
    @NullWhenAbsent package var error: String?

    enum CodingKeys: String, CodingKey {
        case name, action, changes, started, autostartEnabled, stopped, active, restartNeeded, error
    }

    package init(
        name: String, action: Action, changes: [String] = [], started: Bool = false,
        autostartEnabled: Bool = false, stopped: Bool = false, active: Bool? = nil,
        restartNeeded: Bool = false, error: String? = nil
    ) {
        self.name = name
        self.action = action
        self.changes = changes
        self.started = started
        self.autostartEnabled = autostartEnabled
        self.stopped = stopped
        self.active = active
        self.restartNeeded = restartNeeded
        self.error = error
    }

    /// One line: `lan: defined; started; autostart enabled`, `lan: portgroup router added`,
    /// `eth0-vlan5: unchanged`, `lan: stopped; undefined`, `lan: not defined`,
    /// `lan: failed: Unable to define network 'lan': …`.
    package var description: String {
        var parts: [String] = []
        switch action {
        case .defined: parts.append("defined")
        case .redefined: parts += changes
        case .unchanged: parts.append("unchanged")
        case .undefined:
            if stopped { parts.append("stopped") }
            parts.append("undefined")
        case .absent: parts.append("not defined")
        case .failed: parts.append("failed: \(error ?? "unknown error")")
        }
        if restartNeeded { parts.append("running with an older definition until restarted (virsh net-destroy \(name); virsh net-start \(name))") }
        if started { parts.append("started") }
        if autostartEnabled { parts.append("autostart enabled") }
        return "\(name.escapedForDisplay): " + parts.joined(separator: "; ")
    }
}

/// A config's network definitions that cannot be given to libvirt, found before anything is changed.
package struct NetworkDefinitionError: Error, Equatable, Sendable, CustomStringConvertible {
    package var network: String
    package var message: String

    package init(network: String, message: String) {
        self.network = network
        self.message = message
    }

    package var description: String { "network '\(network.escapedForDisplay)': \(message)" }
}

extension LibvirtConnection {
    /// Checks that every definition is a `<network>` whose `<name>` is the definition's name, and
    /// that no name repeats: run before `defineNetworks`, so a bad template changes nothing.
    package static func check(_ definitions: [NetworkDefinition]) throws(NetworkDefinitionError) {
        var seen: Set<String> = []
        for definition in definitions {
            let shape: NetworkShape
            do { shape = try NetworkShape(xml: definition.xml) } catch {
                throw NetworkDefinitionError(network: definition.name, message: error.description)
            }
            guard shape.name == definition.name else {
                throw NetworkDefinitionError(
                    network: definition.name,
                    message: "the rendered XML names the network '\(shape.name)'")
            }
            guard seen.insert(definition.name).inserted else {
                throw NetworkDefinitionError(network: definition.name, message: "defined twice by the config")
            }
        }
    }

    /// Makes libvirt hold `definitions`, idempotently: a network that does not exist is defined;
    /// one that exists is compared with vlanwire's definition (`NetworkShape.changes(from:)`,
    /// against libvirt's inactive XML) and redefined, keeping its UUID, only when they differ.
    /// With `start`, networks that are not running are started; with `autostart`, autostart is
    /// switched on where it is off. Nothing is ever stopped or switched off here.
    ///
    /// Every definition is attempted; a failure is reported in its outcome (`failed`) and does not
    /// stop the others. Call `check` first.
    package func defineNetworks(
        _ definitions: [NetworkDefinition], start: Bool = false,
        autostart: Bool = false
    ) -> [NetworkOutcome] {
        definitions.map { definition in
            do {
                return try defineNetwork(definition, start: start, autostart: autostart)
            } catch {
                return NetworkOutcome(name: definition.name, action: .failed, error: "\(error)")
            }
        }
    }

    func defineNetwork(_ definition: NetworkDefinition, start: Bool, autostart: Bool) throws -> NetworkOutcome {
        let ours = try NetworkShape(xml: definition.xml)
        var outcome: NetworkOutcome
        let network: LibvirtNetwork
        if let existing = try networkIfDefined(named: definition.name) {
            let theirs = try NetworkShape(xml: existing.inactiveXMLOrCurrent())
            var changes = ours.changes(from: theirs)
            // A transient network (virsh net-create) agreeing with ours still needs defining.
            if changes.isEmpty, try !existing.isPersistent() { changes.append("transient, now persistent") }
            if changes.isEmpty {
                network = existing
                outcome = NetworkOutcome(name: definition.name, action: .unchanged)
            } else {
                network = try defineNetwork(xml: try NetworkShape.inserting(uuid: existing.uuid, into: definition.xml))
                outcome = NetworkOutcome(name: definition.name, action: .redefined, changes: changes)
            }
            // A running network runs the definition it was started with, which may be older
            // than the persistent one (redefined now, or by an earlier run).
            if try network.isActive() {
                outcome.restartNeeded = try !ours.changes(from: NetworkShape(xml: network.xml(.current))).isEmpty
            }
        } else {
            network = try defineNetwork(xml: definition.xml)
            outcome = NetworkOutcome(name: definition.name, action: .defined)
        }
        if start, try !network.isActive() {
            try network.start()
            outcome.started = true
            outcome.restartNeeded = false
        }
        if autostart, try !network.autostart() {
            try network.setAutostart(true)
            outcome.autostartEnabled = true
        }
        outcome.active = try network.isActive()
        return outcome
    }

    /// Removes the networks called `names` (stopping a running one first); names libvirt does
    /// not know are reported `absent`. No other network is touched. Every name is attempted.
    package func undefineNetworks(named names: [String]) -> [NetworkOutcome] {
        names.map { name in
            do {
                guard let network = try networkIfDefined(named: name) else {
                    return NetworkOutcome(name: name, action: .absent, active: false)
                }
                var outcome = NetworkOutcome(name: name, action: .undefined, active: false)
                if try network.isActive() {
                    try network.stop()
                    outcome.stopped = true
                }
                try network.undefine()
                return outcome
            } catch {
                return NetworkOutcome(name: name, action: .failed, error: "\(error)")
            }
        }
    }

    /// The network called `name`, or nil when libvirt has none.
    package func networkIfDefined(named name: String) throws(LibvirtError) -> LibvirtNetwork? {
        do { return try network(named: name) } catch {
            if error.code == .noNetwork { return nil }
            throw error
        }
    }
}

extension LibvirtNetwork {
    /// The persistent definition; on drivers that refuse the inactive flag (libvirt's test driver:
    /// "unsupported flags (0x1)"), the current one — the same for a network not running, the
    /// running definition for one that runs (so there a redefinition shows until it is restarted).
    func inactiveXMLOrCurrent() throws(LibvirtError) -> String {
        do { return try xml(.inactive) } catch {
            guard error.code == .invalidArgument, error.message.contains("unsupported flags") else { throw error }
            return try xml(.current)
        }
    }
}
