/// A strict, bounded `multipart/form-data` parser (RFC 7578 on RFC 2046 §5.1), pure value code
/// over a complete body (the HTTP layer has already bounded its size).
///
/// It accepts what real clients send — any boundary RFC 2046 allows (`+++` included, quoted or
/// not), parts with or without `filename` and with or without their own `Content-Type`, a
/// preamble and an epilogue — and refuses the rest with a message: a missing or malformed
/// boundary, a body that does not start with the first delimiter or lacks the closing one
/// (truncated), bare LF line ends in part headers, a part without `Content-Disposition:
/// form-data; name=…`, more than ``Limits/parts`` parts, part headers over
/// ``Limits/headerBytes`` bytes or ``Limits/headerCount`` fields.
public enum Multipart {
    /// The bounds of one parse.
    public struct Limits: Sendable, Equatable {
        /// Parts in one body.
        public var parts = 32
        /// Bytes of one part's header section.
        public var headerBytes = 8192
        /// Header fields of one part.
        public var headerCount = 16

        public init() {}
    }

    /// One part: its field name, file name (if any), own content type (if any) and bytes.
    public struct Part: Sendable, Equatable {
        public var name: String
        public var filename: String?
        public var contentType: String?
        public var body: [UInt8]

        public init(name: String, filename: String? = nil, contentType: String? = nil, body: [UInt8]) {
            self.name = name
            self.filename = filename
            self.contentType = contentType
            self.body = body
        }
    }

    /// Why a body was refused.
    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// The boundary of a `multipart/form-data` content type, or nil when the type is another or
    /// the boundary is missing or breaks RFC 2046 (1 to 70 characters of its alphabet, no
    /// trailing space).
    public static func boundary(contentType: String) -> String? {
        let parameters = contentType.split(separator: ";", omittingEmptySubsequences: false)
        guard let type = parameters.first,
            HTTPHeaders.equalsIgnoringCase(String(type.trimmingSpaces), "multipart/form-data")
        else { return nil }
        for parameter in parameters.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2, HTTPHeaders.equalsIgnoringCase(String(pair[0].trimmingSpaces), "boundary") else {
                continue
            }
            var value = Substring(pair[1].trimmingSpaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = value.dropFirst().dropLast() }
            guard (1...70).contains(value.utf8.count), value.utf8.allSatisfy(isBoundaryByte),
                value.utf8.last != UInt8(ascii: " ")
            else { return nil }
            return String(value)
        }
        return nil
    }

    /// RFC 2046 `bchars`: digits, letters and `'()+_,-./:=? ` .
    static func isBoundaryByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"):
            true
        default: Array("'()+_,-./:=? ".utf8).contains(byte)
        }
    }

    /// A body of `parts` with `boundary` (clients, tests and the fuzz target's round trip): the
    /// name and file name quoted with `\\` and `"` escaped. The parts' bytes must not contain the
    /// delimiter (CRLF, `--`, boundary), which a parse never returns.
    public static func serialize(_ parts: [Part], boundary: String) -> [UInt8] {
        // Escaped byte by byte: String.replacing works on characters, and a backslash followed
        // by a combining mark is one character that is not "\\" (found by the fuzz target).
        func quoted(_ text: String) -> String {
            var bytes: [UInt8] = [UInt8(ascii: "\"")]
            for byte in text.utf8 {
                if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\"") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
            bytes.append(UInt8(ascii: "\""))
            return String(decoding: bytes, as: UTF8.self)
        }
        var body: [UInt8] = []
        for part in parts {
            body.append(contentsOf: Array("--\(boundary)\r\n".utf8))
            var disposition = "Content-Disposition: form-data; name=" + quoted(part.name)
            if let filename = part.filename { disposition += "; filename=" + quoted(filename) }
            body.append(contentsOf: Array((disposition + "\r\n").utf8))
            if let type = part.contentType { body.append(contentsOf: Array("Content-Type: \(type)\r\n".utf8)) }
            body.append(contentsOf: [0x0D, 0x0A])
            body.append(contentsOf: part.body)
            body.append(contentsOf: [0x0D, 0x0A])
        }
        body.append(contentsOf: Array("--\(boundary)--\r\n".utf8))
        return body
    }

    /// The parts of `body`, in order.
    public static func parse(_ body: [UInt8], boundary: String, limits: Limits = Limits()) throws(Failure) -> [Part] {
        let dashBoundary = Array(("--" + boundary).utf8)
        let delimiter = [0x0D, 0x0A] + dashBoundary
        // The first delimiter: at the start, or after a preamble ending in CRLF.
        var position: Int
        if body.starts(with: dashBoundary) {
            position = dashBoundary.count
        } else if let found = find(delimiter, in: body, from: 0) {
            position = found + delimiter.count
        } else {
            throw Failure("The multipart body does not contain its boundary")
        }
        var parts: [Part] = []
        while true {
            // After a delimiter: "--" closes, else optional transport padding and CRLF.
            if has(body, at: position, [UInt8(ascii: "-"), UInt8(ascii: "-")]) { return parts }
            while position < body.count, body[position] == 0x20 || body[position] == 0x09 { position += 1 }
            guard has(body, at: position, [0x0D, 0x0A]) else {
                throw Failure(
                    position >= body.count
                        ? "The multipart body is truncated: it ends without the closing boundary"
                        : "A multipart boundary line must end with CRLF")
            }
            position += 2
            guard parts.count < limits.parts else {
                throw Failure("The multipart body has more than \(limits.parts) parts")
            }
            let (headers, bodyStart) = try partHeaders(body, from: position, limits: limits)
            guard let end = find(delimiter, in: body, from: bodyStart) else {
                throw Failure("The multipart body is truncated: it ends without the closing boundary")
            }
            var part = try describe(headers)
            part.body = Array(body[bodyStart..<end])
            parts.append(part)
            position = end + delimiter.count
        }
    }

    /// The header lines of a part starting at `start`, and where its body begins.
    private static func partHeaders(_ body: [UInt8], from start: Int, limits: Limits) throws(Failure) -> (
        [(String, String)], Int
    ) {
        var headers: [(String, String)] = []
        var lineStart = start
        while true {
            var index = lineStart
            while index < body.count, body[index] != 0x0D, body[index] != 0x0A {
                index += 1
                if index - start > limits.headerBytes {
                    throw Failure("A multipart part's headers are longer than \(limits.headerBytes) bytes")
                }
            }
            guard index + 1 < body.count else {
                throw Failure("The multipart body is truncated inside a part's headers")
            }
            guard body[index] == 0x0D, body[index + 1] == 0x0A else {
                throw Failure("A multipart part's header lines must end with CRLF")
            }
            if index == lineStart { return (headers, index + 2) }
            let line = body[lineStart..<index]
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > lineStart,
                line[lineStart..<colon].allSatisfy({ $0 > 0x20 && $0 < 0x7F })
            else { throw Failure("A multipart part has a malformed header line") }
            guard headers.count < limits.headerCount else {
                throw Failure("A multipart part has more than \(limits.headerCount) header fields")
            }
            let value = String(decoding: line[(colon + 1)...], as: UTF8.self)
            headers.append((String(decoding: line[lineStart..<colon], as: UTF8.self), String(value.trimmingSpaces)))
            lineStart = index + 2
        }
    }

    /// Name, file name and content type from a part's headers.
    private static func describe(_ headers: [(String, String)]) throws(Failure) -> Part {
        var disposition: String?
        var contentType: String?
        for (name, value) in headers {
            if HTTPHeaders.equalsIgnoringCase(name, "Content-Disposition") {
                guard disposition == nil else { throw Failure("A multipart part has two Content-Disposition fields") }
                disposition = value
            } else if HTTPHeaders.equalsIgnoringCase(name, "Content-Type") {
                contentType = value
            }
        }
        guard let disposition else { throw Failure("A multipart part has no Content-Disposition") }
        let parameters = try dispositionParameters(disposition)
        guard let name = parameters.first(where: { $0.0 == "name" })?.1 else {
            throw Failure("A multipart part's Content-Disposition has no name")
        }
        return Part(
            name: name, filename: parameters.first(where: { $0.0 == "filename" })?.1, contentType: contentType,
            body: [])
    }

    /// `form-data; name="bom"; filename="bom.json"` → [("name","bom"), ("filename","bom.json")]:
    /// values quoted (with `\"` escapes) or plain tokens; parameter names lowercased.
    static func dispositionParameters(_ text: String) throws(Failure) -> [(String, String)] {
        let bytes = Array(text.utf8)
        var index = 0
        func skipSpaces() { while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 } }
        let typeEnd = bytes.firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
        let type = String(decoding: bytes[..<typeEnd], as: UTF8.self)
        guard HTTPHeaders.equalsIgnoringCase(String(type.trimmingSpaces), "form-data") else {
            throw Failure("A multipart part's Content-Disposition must be form-data")
        }
        index = typeEnd
        var result: [(String, String)] = []
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: ";") else {
                throw Failure("A multipart part's Content-Disposition is malformed")
            }
            index += 1
            skipSpaces()
            if index == bytes.count { break }
            let nameStart = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "="), bytes[index] != UInt8(ascii: ";") {
                index += 1
            }
            guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else {
                throw Failure("A multipart part's Content-Disposition is malformed")
            }
            let name = String(decoding: bytes[nameStart..<index], as: UTF8.self).trimmingSpaces.lowercasedASCII
            index += 1
            skipSpaces()
            var value: [UInt8] = []
            if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
                index += 1
                var closed = false
                while index < bytes.count {
                    let byte = bytes[index]
                    if byte == UInt8(ascii: "\\"), index + 1 < bytes.count {
                        value.append(bytes[index + 1])
                        index += 2
                        continue
                    }
                    if byte == UInt8(ascii: "\"") {
                        closed = true
                        index += 1
                        break
                    }
                    value.append(byte)
                    index += 1
                }
                guard closed else { throw Failure("A multipart part's Content-Disposition has an unclosed quote") }
            } else {
                while index < bytes.count, bytes[index] != UInt8(ascii: ";") {
                    value.append(bytes[index])
                    index += 1
                }
                while let last = value.last, last == 0x20 || last == 0x09 { value.removeLast() }
            }
            skipSpaces()
            guard let decoded = String(validating: value, as: UTF8.self) else {
                throw Failure("A multipart part's Content-Disposition is not UTF-8")
            }
            result.append((name, decoded))
        }
        return result
    }

    private static func has(_ bytes: [UInt8], at index: Int, _ needle: [UInt8]) -> Bool {
        guard index >= 0, index + needle.count <= bytes.count else { return false }
        for offset in needle.indices where bytes[index + offset] != needle[offset] { return false }
        return true
    }

    /// The first index of `needle` in `bytes` at or after `start`: Boyer-Moore-Horspool, so a
    /// search for a delimiter of n bytes looks at about one byte in n of a part's body (a plain
    /// scan was 7 % of a 5 MB upload's CPU).
    private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        let length = needle.count
        guard length > 0, bytes.count >= length, start <= bytes.count - length else { return nil }
        var shift = [Int](repeating: length, count: 256)
        for (offset, byte) in needle.dropLast().enumerated() { shift[Int(byte)] = length - 1 - offset }
        let lastByte = needle[length - 1]
        var index = start
        let last = bytes.count - length
        while index <= last {
            let tail = bytes[index + length - 1]
            if tail == lastByte, has(bytes, at: index, needle) { return index }
            index += shift[Int(tail)]
        }
        return nil
    }
}
