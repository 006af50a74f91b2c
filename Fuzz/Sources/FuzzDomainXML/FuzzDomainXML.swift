import VLANWire

/// libFuzzer entry: any bytes as a domain XML document (what the hook reads from libvirt on stdin).
/// Refusals are fine; a crash, hang or leak is a bug. Accepted documents are planned too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    if let domain = try? DomainDescription(xml: bytes, guestHint: "fuzz") {
        _ = domain.interfaces.count
        _ = try? Planner(
            topology: Topology.resolve(config: nil, observed: ObservedState()), observed: ObservedState(),
            state: VLANWireState()
        ).plan(domain, operation: .prepare)
    }
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

@_cdecl("FuzzDomainXML_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return llvmFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data, size) }
}
