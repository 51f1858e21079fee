// libFuzzer entry for the JSON parser of request bodies and import lines, compiled by scripts/fuzz
// with the Sources/JSON module's files (no SwiftPM target).
//
// Round trip through the project's own writer: whatever parses is written back with JSONWriter,
// and that text must parse to an equal value; a failure must name an offset inside the input.
// Differential: the shallow parse of uploaded BOMs (keepDepth 0 and 1: deeper values are checked,
// not built) accepts and refuses exactly what the full parse does, and keeps its top levels equal.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    let full = Result { () throws(JSONParser.Failure) in try JSONParser.parse(bytes) }
    for keepDepth in [0, 1] {
        let shallow = Result { () throws(JSONParser.Failure) in try JSONParser.parse(bytes, keepDepth: keepDepth) }
        switch (full, shallow) {
        case (.success(let value), .success(let top)):
            if keepDepth == 1, case .object(let members) = value, case .object(let kept) = top {
                for (name, member) in members {
                    switch member {
                    case .object, .array: if kept[name] != .null { fatalError("a deep value was built") }
                    default: if kept[name] != member { fatalError("a top-level member differs: \(name)") }
                    }
                }
            }
        case (.failure(let error), .failure(let other)):
            if error != other { fatalError("the shallow parse failed differently: \(error) vs \(other)") }
        default:
            fatalError("keepDepth \(keepDepth) changed acceptance: \(full) vs \(shallow)")
        }
    }
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
