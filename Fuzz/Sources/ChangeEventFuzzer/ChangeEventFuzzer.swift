import FuzzChecks

/// libFuzzer's entry point: one change event request body per call.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChangeEvent(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    ChangeEventFuzzCheck.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}
