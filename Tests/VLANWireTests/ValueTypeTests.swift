import Testing
import VLANWireReports
import VLANWireTestSupport

@testable import VLANWire

@Suite struct VLANIDTests {
    @Test(arguments: ["1", "5", "4094"])
    func valid(_ text: String) throws {
        #expect(try VLANID(parsing: text).description == text)
    }

    @Test(arguments: [
        ("0", "reserved"), ("4095", "reserved"), ("-1", "not a decimal"), ("99999", "out of range"),
        ("5a", "not a decimal"), ("", "not a decimal"), (" 5", "not a decimal"), ("+5", "not a decimal"),
        ("0x5", "not a decimal"), ("00000000005", "not a decimal"),
    ])
    func invalid(_ text: String, _ reason: String) {
        #expect(throws: ValueError.self) { try VLANID(parsing: text) }
        do { _ = try VLANID(parsing: text) } catch { #expect(error.description.contains(reason), "\(error)") }
    }

    @Test func intBounds() {
        #expect((try? VLANID(0)) == nil)
        #expect((try? VLANID(4095)) == nil)
        #expect((try? VLANID(1))?.value == 1)
    }
}

@Suite struct VLANSetTests {
    @Test func parsesAndNormalises() throws {
        #expect(try VLANSet(parsing: "1,5,10-20").description == "1,5,10-20")
        #expect(try VLANSet(parsing: "20,10-19, 5 ,1,2").description == "1-2,5,10-20")
        #expect(try VLANSet(parsing: "1;5;10-20").description == "1,5,10-20")
        #expect(try VLANSet(parsing: "3-7,5-9,10").description == "3-10")
        #expect(try VLANSet(parsing: "2-4094").count == 4093)
    }

    @Test(arguments: ["20-10", "0", "4095", "1,,2", "", "-1", "5a", "1-", "-5", "1-4095", "a-b", ",", "1, ,2"])
    func refuses(_ text: String) {
        #expect(throws: ValueError.self) { try VLANSet(parsing: text) }
    }

    @Test func reversedRangeSaysHowToFix() {
        do {
            _ = try VLANSet(parsing: "20-10")
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("reversed"))
            #expect(error.description.contains("10-20"))
        }
    }

    @Test func setAlgebra() {
        let a = vset("1-10,20-30")
        let b = vset("5-25")
        #expect(a.union(b).description == "1-30")
        #expect(a.subtracting(b).description == "1-4,26-30")
        #expect(a.intersection(b).description == "5-10,20-25")
        #expect(b.subtracting(a).description == "11-19")
        #expect(vset("1-4094").subtracting(vset("1")).description == "2-4094")
        #expect(vset("5").isSubset(of: a))
        #expect(!vset("15").isSubset(of: a))
        #expect(a.contains(vid(25)) && !a.contains(vid(15)) && a.contains(vid(1)) && a.contains(vid(30)))
        #expect(Array(vset("1-3,7")).map(\.value) == [1, 2, 3, 7])
    }

    @Test func fourThousandElementListIsFast() throws {
        let text = (1...4094).map(String.init).joined(separator: ",")
        let clock = ContinuousClock()
        var set = VLANSet()
        let elapsed = try clock.measure { set = try VLANSet(parsing: text) }
        #expect(set == VLANSet.all)
        #expect(set.ranges.count == 1)
        // Generous bound: a guard against quadratic behaviour, not a benchmark.
        #expect(elapsed < .seconds(1))
    }

    @Test func codableAsString() throws {
        let json = JSON.encode(vset("1,5,10-20"), pretty: false)
        #expect(json == "\"1,5,10-20\"")
        #expect(try JSON.decode(VLANSet.self, from: Array(json.utf8), what: "t") == vset("1,5,10-20"))
    }
}

@Suite struct LinkNameTests {
    @Test(arguments: ["eth0", "br0v5", "enp3s0f1.100", "br-lan", "a", "123456789012345"])
    func valid(_ name: String) throws { #expect(try LinkName(name).rawValue == name) }

    @Test(arguments: ["", "1234567890123456", "a/b", ".", "..", "a b", "a\nb", "a\tb", "x;rm", "$(id)", "a`b", "é", "a:b", "br0\0"])
    func invalid(_ name: String) {
        #expect(throws: ValueError.self) { try LinkName(name) }
    }

    @Test func sixteenBytesSaysTheLimit() {
        do {
            _ = try LinkName("abcdefghijklmnop")
            Issue.record("accepted")
        } catch {
            #expect(error.description.contains("16 bytes"))
            #expect(error.description.contains("15"))
        }
    }

    @Test func newlineIsEscapedInMessages() {
        do {
            _ = try LinkName("a\nb")
            Issue.record("accepted")
        } catch {
            #expect(!error.description.contains("\n"))
            #expect(error.description.contains("a\\nb"))
        }
    }
}

@Suite struct MACAddressTests {
    @Test func parsesAndPrintsCanonically() throws {
        #expect(try MACAddress(parsing: "52:54:00:AB:cd:1").description == "52:54:00:ab:cd:01")
        #expect(try MACAddress(parsing: "52-54-00-00-00-01").description == "52:54:00:00:00:01")
    }

    @Test(arguments: ["", "52:54:00:00:00", "52:54:00:00:00:01:02", "52:54:00:00:00:0g", "525400000001", "52:54:00:00:00:001"])
    func invalid(_ text: String) {
        #expect(throws: ValueError.self) { try MACAddress(parsing: text) }
    }

    @Test func tapAddressFollowsLibvirt() {
        #expect(mac("52:54:00:00:00:01").libvirtTapAddress == mac("fe:54:00:00:00:01"))
        #expect(mac("fe:54:00:00:00:01").libvirtTapAddress == mac("fa:54:00:00:00:01"))
    }
}

@Suite struct PortPolicyTests {
    @Test func parses() throws {
        #expect(try PortPolicy(parsing: "10") == .access(vid(10)))
        #expect(try PortPolicy(parsing: "access:10") == .access(vid(10)))
        #expect(try PortPolicy(parsing: "trunk:1,5,10-20 native:1") == .trunk(tagged: vset("5,10-20"), native: vid(1)))
        #expect(try PortPolicy(parsing: "trunk:5,10") == .trunk(tagged: vset("5,10"), native: nil))
    }

    @Test(arguments: ["", "trunk:", "trunk:5 native:0", "access:4095", "trunk:1 native:2 native:3", "bogus:5", "5 6"])
    func refuses(_ text: String) {
        #expect(throws: ValueError.self) { try PortPolicy(parsing: text) }
    }

    @Test func roundTrips() throws {
        for text in ["access:5", "trunk:1,5,10-20 native:1", "trunk:2-4094"] {
            #expect(try PortPolicy(parsing: text).description == text)
        }
    }

    @Test func membership() {
        let trunk = PortPolicy.trunk(tagged: vset("5,10-20"), native: vid(1))
        let vlans = PortVLANs(policy: trunk)
        #expect(vlans.members == vset("1,5,10-20"))
        #expect(vlans.untagged == vset("1"))
        #expect(vlans.pvid == vid(1))
        #expect(vlans.tagged == vset("5,10-20"))
    }

    @Test func portVLANEntriesKeepPVIDAlone() {
        // The kernel refuses PVID on a range: it must be its own entry.
        let vlans = PortVLANs(members: vset("1-10"), untagged: vset("5"), pvid: vid(5))
        let entries = vlans.entries.map { "\(Action.rangeText($0.range))\($0.pvid ? "p" : "")\($0.untagged ? "u" : "")" }
        #expect(entries == ["1-4", "5pu", "6-10"])
        #expect(PortVLANs(members: vset("2-4094")).entries.count == 1)
    }
}
