import Foundation
import Testing
import VLANWire
import VLANWireNetlink
import VLANWireTestSupport

@Suite("NetlinkHandle on a real kernel, in throwaway namespaces", .enabled(if: Host.isRoot, Host.rootComment))
struct HandleTests {
    @Test func createsMarkedBridgeWithItsOptions() throws {
        try withScene { scene in
            let handle = try scene.handle()
            let index = try handle.createBridge(BridgeSpec(name: link("br0"), netfilterOff: true))
            let bridge = try #require(try handle.links().first { $0.name == "br0" })
            #expect(bridge.index == index)
            #expect(bridge.kind == "bridge")
            #expect(bridge.isMarkedByVLANWire)
            #expect(bridge.adminUp == false)
            let info = try #require(bridge.bridge)
            #expect(info.stpEnabled == false)
            #expect(info.forwardDelay == 0)
            #expect(info.vlanFiltering == false)
            let json = try #require(try scene.iproute2Links()["br0"])
            #expect(json["ifalias"] as? String == "vlanwire")
            let data = try #require((json["linkinfo"] as? [String: Any])?["info_data"] as? [String: Any])
            if data["nf_call_iptables"] != nil {
                #expect(info.nfCallIPTables == false && info.nfCallIP6Tables == false && info.nfCallARPTables == false)
            }
        }
    }

    @Test func bridgeOptionsFromTheSpecReachTheKernel() throws {
        try withScene { scene in
            let handle = try scene.handle()
            try handle.createBridge(BridgeSpec(name: link("stp0"), stp: true, forwardDelay: 400))
            let info = try #require(try handle.links().first { $0.name == "stp0" }?.bridge)
            #expect(info.stpEnabled)
            #expect(info.forwardDelay == 400)
        }
    }

    @Test func wiresVethAndTapIntoABridge() throws {
        try withScene { scene in
            try scene.ip("link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
            try scene.ip("tuntap", "add", "tap0", "mode", "tap")
            let handle = try scene.handle()
            try handle.createBridge(BridgeSpec(name: link("br0")))
            for port in ["veth0", "tap0"] {
                try handle.enslave(link(port), to: link("br0"))
            }
            for each in ["br0", "veth0", "veth1"] { try handle.setUp(link(each)) }
            try handle.setMTU(link("veth0"), 1400)

            var state = try handle.snapshot()
            #expect(state.ports(of: "br0").map(\.name).sorted() == ["tap0", "veth0"])
            #expect(state.link(named: "tap0")?.kind == "tun")
            #expect(state.link(named: "veth0")?.mtu == 1400)
            #expect(state.link(named: "br0")?.adminUp == true)
            #expect(state.link(named: "tap0")?.adminUp == false)
            #expect(state.link(named: "veth0")?.port != nil)
            state = try eventually({ try handle.snapshot() }) { $0.link(named: "veth0")?.operState == "up" }
            #expect(state.link(named: "veth0")?.port?.state == "forwarding")

            try handle.setDown(link("veth0"))
            try handle.release(link("tap0"))
            try handle.delete(link("veth0"))
            state = try handle.snapshot()
            #expect(state.link(named: "veth0") == nil)
            #expect(state.link(named: "veth1") == nil)  // a veth pair goes together
            #expect(state.link(named: "tap0")?.master == nil)
            #expect(state.link(named: "tap0")?.port == nil)
            #expect(state.ports(of: "br0").isEmpty)
        }
    }

    @Test func snapshotMatchesIproute2() throws {
        try withScene { scene in
            try scene.ip("link", "add", "br1", "type", "bridge", "stp_state", "1", "forward_delay", "300")
            try scene.ip("link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
            try scene.ip("tuntap", "add", "tap0", "mode", "tap")
            try scene.ip("link", "set", "veth0", "master", "br1")
            try scene.ip("link", "set", "tap0", "master", "br1")
            try scene.ip("link", "set", "veth1", "alias", "far end", "mtu", "1400", "up")
            try scene.ip("link", "set", "veth0", "up")
            try scene.ip("link", "set", "br1", "up")
            let handle = try scene.handle()
            let (state, json) = try eventually({ (try handle.snapshot(), try scene.iproute2Links()) }) { state, json in
                state.links.allSatisfy { ($0.operState == (json[$0.name]?["operstate"] as? String)?.lowercased()) }
            }
            #expect(state.complete)
            #expect(Set(state.links.map(\.name)) == Set(json.keys))
            for link in state.links {
                let expected = try #require(json[link.name])
                #expect(link.index == expected["ifindex"] as? Int32 ?? Int32(expected["ifindex"] as? Int ?? -1))
                #expect(link.mtu == expected["mtu"] as? Int)
                #expect(link.operState == (expected["operstate"] as? String)?.lowercased())
                #expect(link.master == expected["master"] as? String)
                #expect(link.alias == expected["ifalias"] as? String)
                #expect(link.adminUp == (expected["flags"] as? [String] ?? []).contains("UP"))
                if let address = expected["address"] as? String, expected["link_type"] as? String == "ether" {
                    #expect(link.mac == (try MACAddress(parsing: address)))
                }
                let linkInfo = expected["linkinfo"] as? [String: Any]
                #expect(link.kind == linkInfo?["info_kind"] as? String)
                if let data = linkInfo?["info_data"] as? [String: Any], link.kind == "bridge" {
                    let bridge = try #require(link.bridge)
                    #expect(bridge.stpEnabled == ((data["stp_state"] as? Int) != 0))
                    #expect(bridge.forwardDelay == data["forward_delay"] as? Int)
                    #expect(bridge.vlanFiltering == ((data["vlan_filtering"] as? Int) == 1))
                    #expect(bridge.nfCallIPTables == (data["nf_call_iptables"] as? Int).map { $0 != 0 })
                    #expect(bridge.nfCallIP6Tables == (data["nf_call_ip6tables"] as? Int).map { $0 != 0 })
                    #expect(bridge.nfCallARPTables == (data["nf_call_arptables"] as? Int).map { $0 != 0 })
                }
                let slave = linkInfo?["info_slave_data"] as? [String: Any]
                #expect(link.port?.state == slave?["state"] as? String)
            }
            #expect(state.link(named: "veth1")?.alias == "far end")
        }
    }

    @Test func errorsNameTheOperationTheLinksAndTheCause() throws {
        try withScene { scene in
            let handle = try scene.handle()
            try handle.createBridge(BridgeSpec(name: link("br0")))

            let missing = #expect(throws: NetlinkError.self) { try handle.enslave(link("vnet3"), to: link("br0v5")) }
            #expect(missing?.description == "Unable to enslave vnet3 to br0v5: No such device")
            #expect(missing?.errno == ENODEV)
            #expect(missing?.links == ["vnet3", "br0v5"])

            let noPort = #expect(throws: NetlinkError.self) { try handle.enslave(link("vnet3"), to: link("br0")) }
            #expect(noPort?.description.hasPrefix("Unable to enslave vnet3 to br0: No such device") == true)

            let exists = #expect(throws: NetlinkError.self) { try handle.createBridge(BridgeSpec(name: link("br0"))) }
            #expect(exists?.errno == EEXIST)
            #expect(exists?.description.hasPrefix("Unable to create bridge br0: File exists") == true)

            let gone = #expect(throws: NetlinkError.self) { try handle.delete(link("nothere")) }
            #expect(gone?.description.hasPrefix("Unable to delete nothere: No such device") == true)

            let badName = #expect(throws: NetlinkError.self) { try NetworkNamespace.named("../etc") }
            #expect(badName?.errno == EINVAL)
            let absent = #expect(throws: NetlinkError.self) {
                try NetlinkHandle(namespace: .named("vwt-does-not-exist"), logger: scene.logger)
            }
            #expect(absent?.description == "Unable to open /run/netns/vwt-does-not-exist: No such file or directory")
            // The failed requests left the handle usable.
            #expect(try handle.links().contains { $0.name == "br0" })
        }
    }

    @Test func capabilitiesAgreeWithWhatTheKernelAccepts() throws {
        try withScene { scene in
            try scene.ip("link", "add", "probe0", "type", "bridge")
            let handle = try scene.handle()
            let capabilities = try handle.capabilities()
            let vlanLinkWorks = (try? scene.ip("link", "add", "link", "probe0", "name", "probe0.7", "type", "vlan", "id", "7")) != nil
            let filteringWorks = (try? scene.ip("link", "set", "probe0", "type", "bridge", "vlan_filtering", "1")) != nil
            #expect(capabilities.vlan8021Q == vlanLinkWorks)
            #expect(capabilities.bridgeVLANFiltering == filteringWorks)
            #expect((capabilities.missingDescription == nil) == (vlanLinkWorks && filteringWorks))
            #expect(try handle.snapshot().capabilities == capabilities)
        }
    }

    @Test(.enabled(if: Host.capabilities?.bridgeVLANFiltering == false, "only where the kernel lacks bridge VLAN filtering"))
    func vlanFilteringRefusedClearlyWithoutKernelSupport() throws {
        try withScene { scene in
            let handle = try scene.handle()
            try handle.createBridge(BridgeSpec(name: link("br0")))
            let error = #expect(throws: NetlinkError.self) { try handle.setVLANFiltering(bridge: link("br0"), enabled: true) }
            #expect(error?.errno == EOPNOTSUPP)
            #expect(error?.description.hasPrefix("Unable to set vlan_filtering 1 on br0: Operation not supported") == true)
            let refused = #expect(throws: NetlinkError.self) {
                try handle.createBridge(BridgeSpec(name: link("br1"), vlanFiltering: true))
            }
            #expect(refused?.errno == EOPNOTSUPP)
            #expect(try handle.links().contains { $0.name == "br1" } == false)
        }
    }

    @Test func bridgeNetfilterSysctlsAreThoseOfTheNamespace() throws {
        try withScene { scene in
            let handle = try scene.handle()
            let knob = "bridge-nf-call-arptables"
            let path = "/proc/sys/net/bridge/" + knob
            guard let sysctls = try handle.bridgeNetfilterSysctls() else {
                #expect(FileManager.default.fileExists(atPath: "/proc/sys/net/bridge") == false)
                return
            }
            let inside = try Scene.run("/usr/sbin/ip", ["netns", "exec", scene.name, "cat", path])
            #expect(sysctls.values[knob] == Int(inside.trimmingCharacters(in: .whitespacesAndNewlines)))
            let hostValue = try String(contentsOfFile: path, encoding: .utf8)
            let flipped = sysctls.values[knob] == 0 ? 1 : 0
            try handle.setBridgeNetfilterSysctl(knob, flipped)
            #expect(try handle.bridgeNetfilterSysctls()?.values[knob] == flipped)
            #expect(try String(contentsOfFile: path, encoding: .utf8) == hostValue)
            #expect(throws: NetlinkError.self) { try handle.setBridgeNetfilterSysctl("../../../kernel/hostname", 1) }
        }
    }
}
