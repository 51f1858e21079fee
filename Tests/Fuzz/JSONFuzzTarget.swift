// libFuzzer entry for the JSON parser of request bodies and import lines, compiled by scripts/fuzz
// with Sources/WorkflowAPI/JSONValue.swift and JSONParser.swift (no SwiftPM target).
//
// Round trip: whatever parses is written back as JSON, and that text must parse to an equal
// value; a failure must name an offset inside the input.

func write(_ value: JSONValue, into out: inout [UInt8]) {
    switch value {
    case .null: out += Array("null".utf8)
    case .bool(let flag): out += Array((flag ? "true" : "false").utf8)
    case .integer(let number): out += Array(String(number).utf8)
    case .number(let number): out += Array("\(number)".utf8)
    case .string(let text): writeString(text, into: &out)
    case .array(let elements):
        out.append(UInt8(ascii: "["))
        for (index, element) in elements.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            write(element, into: &out)
        }
        out.append(UInt8(ascii: "]"))
    case .object(let members):
        out.append(UInt8(ascii: "{"))
        for (index, (name, member)) in members.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            writeString(name, into: &out)
            out.append(UInt8(ascii: ":"))
            write(member, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}

func writeString(_ text: String, into out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"):
            out.append(UInt8(ascii: "\\"))
            out.append(byte)
        case 0..<0x20:
            out += Array("\\u00".utf8)
            out.append(Array("0123456789abcdef".utf8)[Int(byte >> 4)])
            out.append(Array("0123456789abcdef".utf8)[Int(byte & 15)])
        default: out.append(byte)
        }
    }
    out.append(UInt8(ascii: "\""))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    do {
        let value = try JSONParser.parse(bytes)
        var text: [UInt8] = []
        write(value, into: &text)
        guard let again = try? JSONParser.parse(text) else { fatalError("written JSON does not parse") }
        // Doubles may print with a different spelling but must parse back to the same value.
        if again != value { fatalError("round trip changed the value") }
    } catch {
        if error.offset < 0 || error.offset > bytes.count { fatalError("failure offset outside the input") }
    }
    return 0
}
