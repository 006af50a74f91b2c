/// JSON's errors. Reading and writing JSON through Codable (`JSON.encode`, `JSON.decode`) is in
/// VLANWireReports, with FoundationEssentials; the core (and with it the hook) stays without it,
/// and its state file has its own codec (StateJSON.swift).
public enum JSON {
    public struct DecodeError: Error, Sendable, CustomStringConvertible {
        public var what: String
        public var message: String
        public var description: String { "\(what): \(message)" }

        public init(what: String, message: String) {
            self.what = what
            self.message = message
        }
    }

    package static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "" : " at \(keys)"
        }
        switch error {
        case .dataCorrupted(let context): return context.debugDescription + path(context)
        case .keyNotFound(let key, let context): return "missing key '\(key.stringValue)'" + path(context)
        case .typeMismatch(let type, let context): return "expected \(type)" + path(context)
        case .valueNotFound(let type, let context): return "missing \(type) value" + path(context)
        @unknown default: return "\(error)"
        }
    }
}
