package import VLANWire

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// JSON in and out through Codable: `--json` output, `--observed` input, `watch.json`.
extension JSON {
    package static func encode(_ value: some Encodable, pretty: Bool = true) -> String {
        let encoder = JSONEncoder()
        // Slashes as they are: URIs (qemu:///system) and paths read as written.
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own value types cannot fail (no floats, no non-string keys).
        let data = try! encoder.encode(value)
        return String(decoding: data, as: UTF8.self)
    }

    package static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], what: String) throws(DecodeError) -> T {
        do { return try JSONDecoder().decode(type, from: Data(bytes)) } catch let error as DecodingError {
            throw DecodeError(what: what, message: describe(error))
        } catch {
            throw DecodeError(what: what, message: "\(error)")
        }
    }
}
