/// A set of VLAN ids kept as sorted, disjoint, non-adjacent ranges: `1,5,10-20`.
///
/// Parses vlanwire's and libvirt's comma form (`1,5,10-20`) and Proxmox's `1;5;10-20`;
/// prints back canonically. Stored as ranges so that `2-4094` costs one entry, not 4093.
public struct VLANSet: Hashable, Sendable, CustomStringConvertible, Codable, Sequence {
    /// Sorted, disjoint and non-adjacent.
    public private(set) var ranges: [ClosedRange<VLANID>]

    public static let empty = VLANSet(normalizing: [])
    public static let all = VLANSet(normalizing: [try! VLANID(1)...(try! VLANID(4094))])

    public init() { ranges = [] }

    public init(_ ids: some Sequence<VLANID>) {
        self.init(normalizing: ids.map { $0...$0 })
    }

    public init(ranges: some Sequence<ClosedRange<VLANID>>) {
        self.init(normalizing: Array(ranges))
    }

    public init(_ id: VLANID) { ranges = [id...id] }

    private init(normalizing input: [ClosedRange<VLANID>]) {
        let sorted = input.sorted { $0.lowerBound < $1.lowerBound }
        var merged: [ClosedRange<VLANID>] = []
        merged.reserveCapacity(sorted.count)
        for range in sorted {
            if let last = merged.last, range.lowerBound.value <= last.upperBound.value &+ 1 {
                if range.upperBound > last.upperBound {
                    merged[merged.count - 1] = last.lowerBound...range.upperBound
                }
            } else {
                merged.append(range)
            }
        }
        ranges = merged
    }

    /// Parses `1,5,10-20` or `1;5;10-20`. Spaces around items are allowed; empty items,
    /// reversed ranges (`20-10`) and invalid ids are not.
    public init(parsing text: some StringProtocol) throws(ValueError) {
        let input = String(text)
        guard input.utf8.count <= 65_536 else {
            throw ValueError(.vlanSet, String(input.prefix(40)), "longer than 64 KiB")
        }
        let trimmedAll = input.trimmingASCIIWhitespace
        guard !trimmedAll.isEmpty else { throw ValueError(.vlanSet, input, "empty (give ids like 1,5,10-20)") }
        var parsed: [ClosedRange<VLANID>] = []
        for item in trimmedAll.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "," || $0 == ";" }) {
            let token = item.trimmingASCIIWhitespace
            guard !token.isEmpty else { throw ValueError(.vlanSet, input, "empty item between separators") }
            if let dash = token.firstIndex(of: "-") {
                let low = token[..<dash].trimmingASCIIWhitespace
                let high = token[token.index(after: dash)...].trimmingASCIIWhitespace
                guard !low.isEmpty else {
                    throw ValueError(.vlanSet, input, "'\(token)' is not an id or a range (negative ids do not exist)")
                }
                let lowID: VLANID
                let highID: VLANID
                do {
                    lowID = try VLANID(parsing: low)
                    highID = try VLANID(parsing: high)
                } catch {
                    throw ValueError(.vlanSet, input, "in '\(token)': \(error.description)")
                }
                guard lowID <= highID else {
                    throw ValueError(.vlanSet, input, "range '\(token)' is reversed (write \(highID)-\(lowID))")
                }
                parsed.append(lowID...highID)
            } else {
                do {
                    let id = try VLANID(parsing: token)
                    parsed.append(id...id)
                } catch {
                    throw ValueError(.vlanSet, input, error.description)
                }
            }
        }
        self.init(normalizing: parsed)
    }

    public var isEmpty: Bool { ranges.isEmpty }

    /// Number of VLAN ids in the set.
    public var count: Int {
        ranges.reduce(0) { $0 + Int($1.upperBound.value - $1.lowerBound.value) + 1 }
    }

    public func contains(_ id: VLANID) -> Bool {
        var low = 0
        var high = ranges.count - 1
        while low <= high {
            let mid = (low + high) / 2
            if ranges[mid].upperBound < id { low = mid + 1 } else if ranges[mid].lowerBound > id { high = mid - 1 } else { return true }
        }
        return false
    }

    public func union(_ other: VLANSet) -> VLANSet { VLANSet(normalizing: ranges + other.ranges) }

    public func subtracting(_ other: VLANSet) -> VLANSet {
        var result: [ClosedRange<VLANID>] = []
        var others = other.ranges[...]
        for range in ranges {
            var low = range.lowerBound.value
            let high = range.upperBound.value
            while let cut = others.first, cut.upperBound.value < low { others.removeFirst() }
            var index = others.startIndex
            while index < others.endIndex, others[index].lowerBound.value <= high, low <= high {
                let cut = others[index]
                if cut.lowerBound.value > low {
                    result.append(VLANID(trusted: low)...VLANID(trusted: cut.lowerBound.value - 1))
                }
                if cut.upperBound.value >= high {
                    low = high &+ 1
                    break
                }
                low = cut.upperBound.value + 1
                index += 1
            }
            if low <= high { result.append(VLANID(trusted: low)...VLANID(trusted: high)) }
        }
        return VLANSet(normalizing: result)
    }

    public func intersection(_ other: VLANSet) -> VLANSet { subtracting(subtracting(other)) }

    public func isSubset(of other: VLANSet) -> Bool { subtracting(other).isEmpty }

    /// Canonical text: `1,5,10-20`.
    public var description: String {
        ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            .joined(separator: ",")
    }

    public func makeIterator() -> some IteratorProtocol<VLANID> {
        ranges.lazy.flatMap { range in (range.lowerBound.value...range.upperBound.value).lazy.map(VLANID.init(trusted:)) }
            .makeIterator()
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        if text.isEmpty {
            self.init()
            return
        }
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension VLANID {
    /// For values already known to be in 1...4094 (arithmetic on existing ids).
    init(trusted value: UInt16) {
        precondition(VLANID.range.contains(value))
        self = try! VLANID(Int(value))
    }
}

extension StringProtocol {
    var trimmingASCIIWhitespace: SubSequence {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}
