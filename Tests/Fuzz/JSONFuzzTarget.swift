// libFuzzer entry for the JSON parser of request bodies and import lines, compiled by scripts/fuzz
// with the Sources/JSON module's files (no SwiftPM target).
//
// Round trip through the project's own writer: whatever parses is written back with JSONWriter,
// and that text must parse to an equal value; a failure must name an offset inside the input.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    do {
        let value = try JSONParser.parse(bytes)
        var writer = JSONWriter()
        writer.value(value)
        guard let again = try? JSONParser.parse(writer.bytes) else { fatalError("written JSON does not parse") }
        // Doubles may print with a different spelling but must parse back to the same value.
        if again != value { fatalError("round trip changed the value") }
    } catch {
        if error.offset < 0 || error.offset > bytes.count { fatalError("failure offset outside the input") }
    }
    return 0
}
