/// Builds JSON text byte by byte, with keys in the order they are written (Dependency-Track
/// clients and golden files compare shapes, so the order is fixed, not a dictionary's).
public struct JSONWriter: Sendable {
    /// The JSON text so far, UTF-8.
    public private(set) var bytes: [UInt8] = []
    private var needsComma: [Bool] = [false]

    /// An empty writer. Room for a typical answer is reserved up front, so that a response of a
    /// few hundred bytes is not regrown byte array by byte array.
    public init() { bytes.reserveCapacity(512) }

    private var afterKey = false

    private mutating func separate() {
        if needsComma[needsComma.count - 1] { bytes.append(UInt8(ascii: ",")) }
        needsComma[needsComma.count - 1] = true
    }

    /// Before a value: a comma between elements, nothing right after a member name.
    private mutating func valuePrefix() {
        if afterKey { afterKey = false } else { separate() }
    }

    /// Opens an object (as a value, or after ``key(_:)``).
    public mutating func beginObject() {
        valuePrefix()
        bytes.append(UInt8(ascii: "{"))
        needsComma.append(false)
    }

    /// Closes the innermost object.
    public mutating func endObject() {
        needsComma.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    /// Opens an array.
    public mutating func beginArray() {
        valuePrefix()
        bytes.append(UInt8(ascii: "["))
        needsComma.append(false)
    }

    /// Closes the innermost array.
    public mutating func endArray() {
        needsComma.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    /// Writes a member name; the next value written is its value.
    public mutating func key(_ name: String) {
        separate()
        appendString(name)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    /// Writes a string value.
    public mutating func string(_ value: String) {
        valuePrefix()
        appendString(value)
    }

    /// Writes an integer value.
    public mutating func number(_ value: Int64) {
        valuePrefix()
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        // Room for the digits first, then each written in place from the last: no String, no
        // array and no append per digit (a millisecond timestamp has 13).
        var magnitude = value.magnitude
        var digits = 1
        var bound: UInt64 = 10
        while digits < 20 && magnitude >= bound {
            digits += 1
            bound = bound &* 10
        }
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        var index = bytes.count - 1
        while magnitude > 0 {
            bytes[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
            index -= 1
        }
    }

    /// Writes a floating-point value (finite values only; others become `null`).
    public mutating func number(_ value: Double) {
        valuePrefix()
        bytes.append(contentsOf: Array((value.isFinite ? "\(value)" : "null").utf8))
    }

    /// Writes `true` or `false`.
    public mutating func bool(_ value: Bool) {
        valuePrefix()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// Writes `null`.
    public mutating func null() {
        valuePrefix()
        bytes.append(contentsOf: "null".utf8)
    }

    /// Writes `"key": value` for a string.
    public mutating func member(_ name: String, _ value: String) {
        key(name)
        string(value)
    }

    /// Writes `"key": value` for an integer.
    public mutating func member(_ name: String, _ value: Int64) {
        key(name)
        number(value)
    }

    /// Writes `"key": value` for a Boolean.
    public mutating func member(_ name: String, _ value: Bool) {
        key(name)
        bool(value)
    }

    /// Writes `"key": value` for a floating-point number (named, so that an integer literal is
    /// never ambiguous).
    public mutating func member(_ name: String, double value: Double) {
        key(name)
        number(value)
    }

    /// Writes `"key": value` for any ``JSONValue``.
    public mutating func member(_ name: String, _ value: JSONValue) {
        key(name)
        self.value(value)
    }

    /// Writes a whole ``JSONValue``; object members in name order, so the text is deterministic.
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .integer(let number): self.number(number)
        case .number(let number): self.number(number)
        case .string(let text): string(text)
        case .array(let elements):
            beginArray()
            for element in elements { self.value(element) }
            endArray()
        case .object(let members):
            beginObject()
            for name in members.keys.sorted() {
                key(name)
                self.value(members[name]!)
            }
            endObject()
        }
    }

    /// One object built by `body`, as bytes: `JSONWriter.object { $0.member("a", 1) }`.
    public static func object(_ body: (inout JSONWriter) -> Void) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        body(&json)
        json.endObject()
        return json.bytes
    }

    /// RFC 8259 §7: quote, escape `"` and `\`, and the control characters below U+0020.
    private mutating func appendString(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        if Self.needsEscaping(value.utf8.span) {
            appendEscaped(value.utf8.span)
        } else {
            // The common case (names, tokens, timestamps, step names): one copy of the bytes.
            bytes.append(contentsOf: value.utf8)
        }
        bytes.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    private static func needsEscaping(_ text: Span<UInt8>) -> Bool {
        var index = 0
        while index < text.count {
            let byte = text[index]
            if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return true }
            index += 1
        }
        return false
    }

    private mutating func appendEscaped(_ text: Span<UInt8>) {
        var index = 0
        while index < text.count {
            let byte = text[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                bytes.append(contentsOf: "\\u00".utf8)
                bytes.append(Self.hexDigit(byte >> 4))
                bytes.append(Self.hexDigit(byte & 0xF))
            default: bytes.append(byte)
            }
        }
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    /// The JSON text as a `String`.
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}
