/// Strict percent-decoding of path segments and query components (RFC 3986 §2.1).
enum PercentDecoding {
    /// Decodes `%XX` escapes (and `+` as space when asked, for queries); nil for an invalid escape
    /// or a result that is not valid UTF-8.
    static func decode(_ text: Substring, plusIsSpace: Bool = false) -> String? {
        // Most segments (tokens, step names) have nothing to decode: the text is already UTF-8.
        // A byte loop over the contiguous bytes (a generic `contains(where:)` over the view was
        // 0.6 % of the poll's samples).
        let utf8 = text.utf8.span
        var index = 0
        while index < utf8.count && utf8[index] != UInt8(ascii: "%")
            && !(plusIsSpace && utf8[index] == UInt8(ascii: "+"))
        {
            index += 1
        }
        if index == utf8.count { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hex), let low = iterator.next().flatMap(hex) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else if plusIsSpace && byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
