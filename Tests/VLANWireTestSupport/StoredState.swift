public import VLANWire
import VLANWireHost

/// The state stored in `directory` (state.json and every guest's file), read as the product reads it.
/// Throws (without recording an issue, so `try?` asks "is there one?") when there is none.
public func storedState(_ directory: String) throws -> VLANWireState {
    guard let state = StateStore(directory: directory).peek() else { throw NoStoredState(directory: directory) }
    return state
}

public struct NoStoredState: Error, CustomStringConvertible {
    public var directory: String
    public var description: String { "no readable vlanwire state in \(directory)" }
}
