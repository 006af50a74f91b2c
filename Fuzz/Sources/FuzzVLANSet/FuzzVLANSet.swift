import VLANWire

/// libFuzzer entry: VLAN set text (`1,5,10-20`) and port policies (`trunk:1,5 native:1`), as guest
/// metadata and the config carry them. A parsed set must print back to an equal set.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let set = try? VLANSet(parsing: text) {
        let again = try? VLANSet(parsing: set.description)
        precondition(set.isEmpty || again == set, "VLANSet round trip: '\(text)' -> '\(set)' -> \(String(describing: again))")
    }
    _ = try? PortPolicy(parsing: text)
    _ = try? VLANID(parsing: text)
    return 0
}

// SwiftPM links executables with `main` renamed to `<module>_main`: this is it, handing over to
// libFuzzer's driver (libclang_rt.fuzzer, linked by -sanitize=fuzzer).
@_silgen_name("LLVMFuzzerRunDriver")
func llvmFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("FuzzVLANSet_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return llvmFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data, size) }
}
