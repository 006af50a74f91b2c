#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// JSON in and out: `--json` output, `--observed` input, the state file.
/// FoundationEssentials, not Foundation: the hook reads its state on every guest start.
public enum JSON {
    public struct DecodeError: Error, Sendable, CustomStringConvertible {
        public var what: String
        public var message: String
        public var description: String { "\(what): \(message)" }
    }

    public static func encode(_ value: some Encodable, pretty: Bool = true) -> String {
        let encoder = JSONEncoder()
        // Slashes as they are: URIs (qemu:///system) and paths read as written.
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own value types cannot fail (no floats, no non-string keys).
        let data = try! encoder.encode(value)
        return String(decoding: data, as: UTF8.self)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], what: String) throws(DecodeError) -> T {
        do { return try JSONDecoder().decode(type, from: Data(bytes)) } catch let error as DecodingError {
            throw DecodeError(what: what, message: describe(error))
        } catch {
            throw DecodeError(what: what, message: "\(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
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
