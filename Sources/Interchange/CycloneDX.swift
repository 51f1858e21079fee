internal import JSON
public import WorkflowModel

/// Recognises an uploaded BOM as CycloneDX JSON or CycloneDX XML, as Dependency-Track does
/// before it accepts one; the bytes are kept exactly as sent.
///
/// JSON is parsed whole (strict: any malformed document is refused) and must be an object with
/// `"bomFormat": "CycloneDX"`. XML is checked, not validated: after an optional UTF-8 byte order
/// mark, XML declaration and comments, the root element must be `bom` (or `prefix:bom`) in a
/// `http://cyclonedx.org/schema/bom/<version>` namespace, and the document must end with its
/// closing tag. A `<!DOCTYPE` is refused (CycloneDX needs none; entity tricks need one).
public enum CycloneDX {
    /// Why a BOM is refused (400).
    public struct Refusal: Error, Equatable, Sendable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// The document's format and declared spec version.
    public static func recognize(_ bytes: [UInt8]) throws(Refusal) -> BomDocument {
        var index = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        while index < bytes.count, isSpace(bytes[index]) { index += 1 }
        guard index < bytes.count else { throw Refusal("The BOM is empty") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try json(bytes, from: index)
        case UInt8(ascii: "<"): return try xml(bytes, from: index)
        default: throw Refusal("The BOM is neither CycloneDX JSON nor CycloneDX XML")
        }
    }

    private static func json(_ bytes: [UInt8], from start: Int) throws(Refusal) -> BomDocument {
        let value: JSONValue
        do { value = try JSONValue.parse(Array(bytes[start...]), what: "The BOM", keepDepth: 1) } catch {
            throw Refusal("The BOM is not valid JSON: \(error.message)")
        }
        guard case .object(let members) = value else { throw Refusal("The BOM is JSON but not an object") }
        var format: String?
        var spec: String?
        for (name, member) in members {
            if name == "bomFormat", case .string(let text) = member { format = text }
            if name == "specVersion", case .string(let text) = member { spec = text }
        }
        guard format == "CycloneDX" else {
            throw Refusal("The BOM is JSON but not CycloneDX (bomFormat must be \"CycloneDX\")")
        }
        return BomDocument(format: .cycloneDXJSON, specVersion: try specVersion(spec), bytes: bytes)
    }

    private static func specVersion(_ text: String?) throws(Refusal) -> String? {
        guard let text else { return nil }
        guard (1...16).contains(text.utf8.count),
            text.utf8.allSatisfy({ ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: ".") })
        else { throw Refusal("The BOM's specVersion '\(text.prefix(32))' is not a version") }
        return text
    }

    static let namespace = Array("http://cyclonedx.org/schema/bom/".utf8)

    private static func xml(_ bytes: [UInt8], from start: Int) throws(Refusal) -> BomDocument {
        let notCycloneDX = Refusal("The BOM is XML but not CycloneDX (root element bom in the CycloneDX namespace)")
        var index = start
        // Prolog: the XML declaration, processing instructions, comments, whitespace.
        while true {
            while index < bytes.count, isSpace(bytes[index]) { index += 1 }
            if has(bytes, at: index, "<?") {
                guard let end = find(bytes, "?>", from: index + 2) else { throw Refusal("The BOM's XML is truncated") }
                index = end + 2
            } else if has(bytes, at: index, "<!--") {
                guard let end = find(bytes, "-->", from: index + 4) else { throw Refusal("The BOM's XML is truncated") }
                index = end + 3
            } else if has(bytes, at: index, "<!") {
                throw Refusal("The BOM's XML has a document type declaration, which CycloneDX does not use")
            } else {
                break
            }
        }
        guard has(bytes, at: index, "<") else { throw notCycloneDX }
        // The root start tag, up to 64 KiB.
        let limit = min(bytes.count, index + 65536)
        guard let close = bytes[index..<limit].firstIndex(of: UInt8(ascii: ">")) else { throw notCycloneDX }
        let tag = Array(bytes[(index + 1)..<close])
        let nameEnd = tag.firstIndex(where: { isSpace($0) || $0 == UInt8(ascii: "/") }) ?? tag.count
        let name = tag[..<nameEnd]
        var prefix: ArraySlice<UInt8> = []
        if let colon = name.firstIndex(of: UInt8(ascii: ":")) {
            prefix = name[..<colon]
            guard Array(name[(colon + 1)...]) == Array("bom".utf8) else { throw notCycloneDX }
        } else {
            guard Array(name) == Array("bom".utf8) else { throw notCycloneDX }
        }
        let attribute = Array(
            (prefix.isEmpty ? "xmlns=" : "xmlns:" + String(decoding: prefix, as: UTF8.self) + "=").utf8)
        guard let at = find(tag, attribute, from: nameEnd), at + attribute.count < tag.count else {
            throw notCycloneDX
        }
        let quote = tag[at + attribute.count]
        guard quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'"),
            let valueEnd = tag[(at + attribute.count + 1)...].firstIndex(of: quote)
        else { throw notCycloneDX }
        let uri = Array(tag[(at + attribute.count + 1)..<valueEnd])
        guard uri.starts(with: namespace) else { throw notCycloneDX }
        let version = String(decoding: uri[namespace.count...], as: UTF8.self)
        // The document must end with the root's closing tag (a truncated upload does not).
        var end = bytes.count
        while end > close, isSpace(bytes[end - 1]) { end -= 1 }
        let closing = Array(("</" + String(decoding: name, as: UTF8.self)).utf8)
        if tag.last != UInt8(ascii: "/") {
            guard end > 0, bytes[end - 1] == UInt8(ascii: ">"),
                let last = lastIndex(of: closing, in: bytes, before: end), last > close
            else { throw Refusal("The BOM's XML is truncated: it does not end with the closing tag of its root") }
            for byte in bytes[(last + closing.count)..<(end - 1)] where !isSpace(byte) {
                throw Refusal("The BOM's XML is truncated: it does not end with the closing tag of its root")
            }
        }
        return BomDocument(
            format: .cycloneDXXML, specVersion: try specVersion(version.isEmpty ? nil : version), bytes: bytes)
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    private static func has(_ bytes: [UInt8], at index: Int, _ text: String) -> Bool {
        let needle = Array(text.utf8)
        return index + needle.count <= bytes.count && Array(bytes[index..<index + needle.count]) == needle
    }

    private static func find(_ bytes: [UInt8], _ text: String, from start: Int) -> Int? {
        find(bytes, Array(text.utf8), from: start)
    }

    private static func find(_ bytes: [UInt8], _ needle: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, start <= bytes.count - needle.count else { return nil }
        var index = start
        while index <= bytes.count - needle.count {
            if bytes[index] == needle[0], Array(bytes[index..<index + needle.count]) == needle { return index }
            index += 1
        }
        return nil
    }

    private static func lastIndex(of needle: [UInt8], in bytes: [UInt8], before end: Int) -> Int? {
        var index = end - needle.count
        while index >= 0 {
            if bytes[index] == needle[0], Array(bytes[index..<index + needle.count]) == needle { return index }
            index -= 1
        }
        return nil
    }
}
