/// The byte classes and byte helpers of the request parser (and of the serializers' checks).

// MARK: Words

/// The eight bytes at `index` as one little-endian word, the first in the lowest byte (the
/// compiler makes it one load): the unit of the scans that test eight bytes at once. Inlinable,
/// so that the router's scans in another module make it one load too instead of a call.
@inlinable @inline(__always)
public func littleEndianWord(_ bytes: Span<UInt8>, at index: Int) -> UInt64 {
    let eight = bytes.extracting(index..<index + 8)
    return UInt64(eight[0]) | UInt64(eight[1]) << 8 | UInt64(eight[2]) << 16 | UInt64(eight[3]) << 24
        | UInt64(eight[4]) << 32 | UInt64(eight[5]) << 40 | UInt64(eight[6]) << 48 | UInt64(eight[7]) << 56
}

/// Bit 7 set in each byte of `word` that is zero. A byte can be marked falsely only above a true
/// zero byte (the borrow runs upward), so the lowest mark is exact: with `word ^ pattern` it finds
/// the first byte equal to the pattern's (bytes are little-endian, the lowest the first).
@inlinable @inline(__always)
public func zeroByteMarks(_ word: UInt64) -> UInt64 {
    (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080
}

/// The offset of the first `byte` in `range` of `bytes`, or nil; eight bytes at a time (a
/// byte-by-byte scan of the request line cost 11 instructions per byte of the target, and the
/// generic `firstIndex(of:)` of a UTF8View steps a String index per byte).
@inline(__always)
public func firstOffset(of byte: UInt8, in bytes: Span<UInt8>, _ range: Range<Int>) -> Int? {
    var index = range.lowerBound
    let pattern = 0x0101_0101_0101_0101 &* UInt64(byte)
    while range.upperBound - index >= 8 {
        let marks = zeroByteMarks(littleEndianWord(bytes, at: index) ^ pattern)
        if marks != 0 { return index + marks.trailingZeroBitCount / 8 }
        index += 8
    }
    while index < range.upperBound {
        if bytes[index] == byte { return index }
        index += 1
    }
    return nil
}

/// The offset of the first `byte` in `bytes`, or nil.
@inline(__always)
func firstOffset(of byte: UInt8, in bytes: Span<UInt8>) -> Int? { firstOffset(of: byte, in: bytes, 0..<bytes.count) }

/// Whether `count` bytes of `a` from `aStart` equal those of `b` from `bStart`, compared eight at
/// a time.
@inlinable @inline(__always)
public func bytesEqual(_ a: Span<UInt8>, _ aStart: Int, _ b: Span<UInt8>, _ bStart: Int, _ count: Int) -> Bool {
    var offset = 0
    while count - offset >= 8 {
        if littleEndianWord(a, at: aStart + offset) != littleEndianWord(b, at: bStart + offset) { return false }
        offset += 8
    }
    while offset < count {
        if a[aStart + offset] != b[bStart + offset] { return false }
        offset += 1
    }
    return true
}

// MARK: Character classes

/// Whether every byte is a token byte (RFC 9110 §5.6.2): methods and field names.
func allTokenBytes(_ bytes: Span<UInt8>) -> Bool {
    var index = 0
    while index < bytes.count {
        guard isTokenByte(bytes[index]) else { return false }
        index += 1
    }
    return true
}

@inline(__always) func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

@inline(__always) func isHexDigit(_ byte: UInt8) -> Bool { hexValue(byte) != nil }

@inline(__always) func hexValue(_ byte: UInt8) -> Int? {
    switch byte {
    case 0x30...0x39: Int(byte - 0x30)
    case 0x41...0x46: Int(byte - 0x41 + 10)
    case 0x61...0x66: Int(byte - 0x61 + 10)
    default: nil
    }
}

/// `tchar` of RFC 9110 §5.6.2.
@inline(__always) func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
        UInt8(ascii: "'"),
        UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"),
        UInt8(ascii: "_"),
        UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        true
    default: false
    }
}

/// RFC 3986 `unreserved` / `sub-delims` / ":": the characters a path, a query and a Host share.
@inline(__always) func isUnreservedSubDelimOrColon(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
    case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "!"),
        UInt8(ascii: "$"),
        UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"),
        UInt8(ascii: "+"),
        UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: ":"):
        true
    default: false
    }
}

/// Characters RFC 3986 allows in a path or query (pchar / "/" / "?"), `%` handled by the caller.
@inline(__always) func isTargetByte(_ byte: UInt8) -> Bool {
    isUnreservedSubDelimOrColon(byte) || byte == UInt8(ascii: "@") || byte == UInt8(ascii: "/")
        || byte == UInt8(ascii: "?")
}

/// Characters of a Host value: reg-name / IP-literal / IPv4 and an optional port; no `@`,
/// no whitespace (RFC 9112 §3.2, RFC 3986 §3.2.2).
@inline(__always) func isHostByte(_ byte: UInt8) -> Bool {
    isUnreservedSubDelimOrColon(byte) || byte == UInt8(ascii: "[") || byte == UInt8(ascii: "]")
        || byte == UInt8(ascii: "%")
}

/// `bytes` without leading and trailing SP and HTAB, trimmed as bytes.
func trimmedSpaces(_ bytes: Substring.UTF8View) -> Substring.UTF8View {
    var lower = bytes.startIndex
    var upper = bytes.endIndex
    while lower < upper, bytes[lower] == 0x20 || bytes[lower] == 0x09 { lower = bytes.index(after: lower) }
    while upper > lower {
        let before = bytes.index(before: upper)
        guard bytes[before] == 0x20 || bytes[before] == 0x09 else { break }
        upper = before
    }
    return bytes[lower..<upper]
}

extension StringProtocol {
    /// Without leading and trailing SP and HTAB, trimmed as bytes: a space followed by a
    /// combining mark is one Character, which a Character-wise trim would keep (found by the
    /// multipart fuzz target's round trip).
    var trimmingSpaces: String { String(decoding: trimmedSpaces(Substring(self).utf8), as: UTF8.self) }

    var lowercasedASCII: String { String(decoding: utf8.map(asciiLower), as: UTF8.self) }
}
