/// A strict RFC 8259 parser from UTF-8 bytes to ``JSONValue``, for request bodies and import
/// lines. Stricter than Foundation's decoder where that matters for untrusted input: a member
/// name may appear once per object, nesting is limited to ``maxDepth``, strings must be valid
/// UTF-8 without raw control characters or lone surrogates, and nothing may follow the value.
/// An integer without fraction or exponent that fits `Int64` is `.integer`; any other number is
/// `.number`. Measured against the JSONDecoder-based tree it replaced: `scripts/bench ship`.
struct JSONParser {
    /// Objects and arrays nested deeper than this are refused.
    static let maxDepth = 64

    struct Failure: Error, Equatable {
        /// Where the text went wrong.
        let offset: Int
        let reason: String
    }

    private let bytes: [UInt8]
    private var index = 0
    private var depth = 0
    /// Values inside more containers than this are checked but not kept (`.null` in their place).
    private let keepDepth: Int
    /// Member names of the objects being skipped, as ranges of `bytes` (``skipObject()``).
    private var nameRanges: [Range<Int>] = []

    private init(_ bytes: [UInt8], keepDepth: Int) {
        self.bytes = bytes
        self.keepDepth = keepDepth
    }

    /// Parses one JSON text. With `keepDepth`, the whole text is checked exactly as without it
    /// (the same texts are accepted and refused), but only values inside at most `keepDepth`
    /// containers are built; deeper containers and scalars become `.null` in the tree, so a
    /// large document costs no memory beyond its top levels (a BOM: its top-level members).
    static func parse(_ bytes: [UInt8], keepDepth: Int = .max) throws(Failure) -> JSONValue {
        var parser = JSONParser(bytes, keepDepth: keepDepth)
        parser.skipWhitespace()
        let value = try parser.value()
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.failure("text after the JSON value") }
        return value
    }

    private func failure(_ reason: String) -> Failure { Failure(offset: index, reason: reason) }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func value() throws(Failure) -> JSONValue {
        guard index < bytes.count else { throw failure("unexpected end") }
        let keep = depth <= keepDepth
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""):
            if keep { return .string(try string()) }
            try skipString()
            return .null
        case UInt8(ascii: "t"): return try literal(Self.trueBytes, .bool(true))
        case UInt8(ascii: "f"): return try literal(Self.falseBytes, .bool(false))
        case UInt8(ascii: "n"): return try literal(Self.nullBytes, .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number(keep: keep)
        default: throw failure("unexpected character")
        }
    }

    private static let trueBytes = Array("true".utf8)
    private static let falseBytes = Array("false".utf8)
    private static let nullBytes = Array("null".utf8)

    private mutating func literal(_ word: [UInt8], _ result: JSONValue) throws(Failure) -> JSONValue {
        guard index + word.count <= bytes.count else { throw failure("unexpected end") }
        guard bytes[index..<index + word.count].elementsEqual(word) else { throw failure("unexpected character") }
        index += word.count
        return result
    }

    private mutating func enter() throws(Failure) {
        depth += 1
        guard depth <= Self.maxDepth else { throw failure("nested deeper than \(Self.maxDepth)") }
    }

    /// An object: built when it is within the kept depth, else checked the same way (member
    /// names once each, by their decoded text) with nothing built.
    ///
    /// Names of skipped objects are compared as byte ranges of the input, kept on one stack for
    /// all open objects (no allocation per object: hashing or copying every name cost 40 % of a
    /// 5 MB upload); an object with an escaped name or more than 16 members switches to a set of
    /// decoded names.
    private mutating func object() throws(Failure) -> JSONValue {
        try enter()
        let keep = depth <= keepDepth
        index += 1
        var members: [String: JSONValue] = [:]
        let base = nameRanges.count
        defer { nameRanges.removeSubrange(base...) }
        var decoded: Set<String>?
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return keep ? .object(members) : .null
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw failure("expected a member name")
            }
            let quote = index
            let name: String?
            let hasEscape: Bool
            if keep {
                name = try string()
                hasEscape = false
            } else {
                hasEscape = try skipString()
                name = nil
            }
            let range = (quote + 1)..<(index - 1)
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure("expected ':'") }
            index += 1
            skipWhitespace()
            let member = try value()
            // After the value in both modes, so that both fail at the same offset.
            if let name {
                guard members.updateValue(member, forKey: name) == nil else {
                    throw failure("member \"\(name)\" appears twice")
                }
            } else {
                try noteSkippedName(range, quote: quote, hasEscape: hasEscape, since: base, decoded: &decoded)
            }
            skipWhitespace()
            guard index < bytes.count else { throw failure("unexpected end") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "}") {
                index += 1
                depth -= 1
                return keep ? .object(members) : .null
            } else {
                throw failure("expected ',' or '}'")
            }
        }
    }

    /// Records the name at `range` of a skipped object whose names start at `base` on the stack;
    /// throws when the object already has it.
    private mutating func noteSkippedName(
        _ range: Range<Int>, quote: Int, hasEscape: Bool, since base: Int, decoded: inout Set<String>?
    ) throws(Failure) {
        if decoded == nil && (hasEscape || nameRanges.count - base >= 16) {
            decoded = Set(nameRanges[base...].map { String(decoding: bytes[$0], as: UTF8.self) })
        }
        if decoded != nil {
            let text = hasEscape ? try decodedName(from: quote) : String(decoding: bytes[range], as: UTF8.self)
            guard decoded?.insert(text).inserted == true else { throw failure("member \"\(text)\" appears twice") }
            return
        }
        for seen in nameRanges[base...] where sameBytes(seen, range) {
            throw failure("member \"\(String(decoding: bytes[range], as: UTF8.self))\" appears twice")
        }
        nameRanges.append(range)
    }

    private mutating func array() throws(Failure) -> JSONValue {
        try enter()
        let keep = depth <= keepDepth
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return keep ? .array(elements) : .null
        }
        while true {
            skipWhitespace()
            let element = try value()
            if keep { elements.append(element) }
            skipWhitespace()
            guard index < bytes.count else { throw failure("unexpected end") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "]") {
                index += 1
                depth -= 1
                return keep ? .array(elements) : .null
            } else {
                throw failure("expected ',' or ']'")
            }
        }
    }

    private mutating func string() throws(Failure) -> String {
        index += 1  // the opening quote
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                guard let text = String(validating: bytes[start..<index], as: UTF8.self) else {
                    throw failure("a string is not valid UTF-8")
                }
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw failure("a control character inside a string") }
            index += 1
        }
        var decoded = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: decoded, as: UTF8.self) else {
                    throw failure("a string is not valid UTF-8")
                }
                index += 1
                return text
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw failure("unexpected end") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
                case UInt8(ascii: "b"): decoded.append(0x08)
                case UInt8(ascii: "f"): decoded.append(0x0C)
                case UInt8(ascii: "n"): decoded.append(0x0A)
                case UInt8(ascii: "r"): decoded.append(0x0D)
                case UInt8(ascii: "t"): decoded.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = UInt32(try hex4())
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { throw failure("a lone surrogate in \\u escapes") }
                        index += 2
                        let low = UInt32(try hex4())
                        guard (0xDC00...0xDFFF).contains(low) else { throw failure("a lone surrogate in \\u escapes") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw failure("a lone surrogate in \\u escapes")
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw failure("an invalid \\u escape") }
                    decoded.append(contentsOf: UTF8.encode(unicode)!)
                default:
                    throw failure("an invalid escape")
                }
            default:
                guard byte >= 0x20 else { throw failure("a control character inside a string") }
                decoded.append(byte)
                index += 1
            }
        }
        throw failure("an unterminated string")
    }

    private func sameBytes(_ first: Range<Int>, _ second: Range<Int>) -> Bool {
        guard first.count == second.count else { return false }
        var (left, right) = (first.lowerBound, second.lowerBound)
        while left < first.upperBound {
            if bytes[left] != bytes[right] { return false }
            left += 1
            right += 1
        }
        return true
    }

    /// The text of the string starting at `quote`, which ``skipString()`` has already checked.
    private mutating func decodedName(from quote: Int) throws(Failure) -> String {
        let end = index
        index = quote
        let text = try string()
        index = end
        return text
    }

    /// Checks a string like ``string()`` without building it. - Returns: whether it has escapes.
    @discardableResult
    private mutating func skipString() throws(Failure) -> Bool {
        index += 1  // the opening quote
        let start = index
        var ascii = true
        var escaped = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                if !ascii {
                    var iterator = bytes[start..<index].makeIterator()
                    var decoder = UTF8()
                    decoding: while true {
                        switch decoder.decode(&iterator) {
                        case .scalarValue: continue
                        case .emptyInput: break decoding
                        case .error: throw failure("a string is not valid UTF-8")
                        }
                    }
                }
                index += 1
                return escaped
            }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                index += 1
                guard index < bytes.count else { throw failure("unexpected end") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    continue
                case UInt8(ascii: "u"):
                    let scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { throw failure("a lone surrogate in \\u escapes") }
                        index += 2
                        guard (0xDC00...0xDFFF).contains(try hex4()) else {
                            throw failure("a lone surrogate in \\u escapes")
                        }
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw failure("a lone surrogate in \\u escapes")
                    }
                    continue
                default: throw failure("an invalid escape")
                }
            }
            guard byte >= 0x20 else { throw failure("a control character inside a string") }
            if byte >= 0x80 { ascii = false }
            index += 1
        }
        throw failure("an unterminated string")
    }

    private mutating func hex4() throws(Failure) -> UInt16 {
        guard index + 4 <= bytes.count else { throw failure("unexpected end") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("an invalid \\u escape")
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    private mutating func number(keep: Bool = true) throws(Failure) -> JSONValue {
        let start = index
        var isInteger = true
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw failure("a malformed number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count && isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw failure("a malformed number") }
            while index < bytes.count && isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            isInteger = false
            index += 1
            if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) {
                index += 1
            }
            guard index < bytes.count, isDigit(bytes[index]) else { throw failure("a malformed number") }
            while index < bytes.count && isDigit(bytes[index]) { index += 1 }
        }
        // Below the kept depth only what could be out of range is converted: an integer of up to
        // 300 digits is always finite as a Double.
        if !keep && isInteger && index - start <= 300 { return .null }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if isInteger, let integer = Int64(text) { return keep ? .integer(integer) : .null }
        guard let double = Double(text), double.isFinite else { throw failure("a number out of range") }
        return keep ? .number(double) : .null
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}
