/// A workflow's identifier: a UUID, as Dependency-Track hands it out after an upload.
///
/// Parsed from and printed as the canonical 36-character form (`8-4-4-4-12` hexadecimal
/// digits); parsing accepts either case, printing uses lower case as Java's `UUID.toString()`.
public struct Token: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The first eight bytes, big-endian.
    public let high: UInt64
    /// The last eight bytes, big-endian.
    public let low: UInt64

    /// Creates a token from its two halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses the canonical form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`; nil for anything else.
    public init?(_ text: some StringProtocol) {
        self.init(String(text))
    }

    /// Parses the canonical form (the concrete, specialised path every poll takes).
    public init?(_ text: String) {
        var text = text
        text.makeContiguousUTF8()
        guard let parsed = Token.parse(text.utf8.span) else { return nil }
        self = parsed
    }

    /// Parses the canonical form from UTF-8 bytes (a request path's, without a String).
    public init?(utf8: Span<UInt8>) {
        guard let parsed = Token.parse(utf8) else { return nil }
        self = parsed
    }

    private static func parse(_ utf8: Span<UInt8>) -> Token? {
        guard utf8.count == 36, utf8[8] == UInt8(ascii: "-"), utf8[13] == UInt8(ascii: "-"),
            utf8[18] == UInt8(ascii: "-"), utf8[23] == UInt8(ascii: "-")
        else { return nil }
        // The 32 digits as four words of eight (the dashes left out), each checked and turned
        // into a number without a branch per digit.
        let first = Self.digits(Self.bytes(utf8, 0, 4) | Self.bytes(utf8, 4, 4) << 32)
        let second = Self.digits(Self.bytes(utf8, 9, 4) | Self.bytes(utf8, 14, 4) << 32)
        let third = Self.digits(Self.bytes(utf8, 19, 4) | Self.bytes(utf8, 24, 4) << 32)
        let fourth = Self.digits(Self.bytes(utf8, 28, 4) | Self.bytes(utf8, 32, 4) << 32)
        guard let first, let second, let third, let fourth else { return nil }
        return Token(high: first << 32 | second, low: third << 32 | fourth)
    }

    /// `count` (at most 8) bytes from `offset` as one little-endian word.
    @inline(__always)
    private static func bytes(_ utf8: Span<UInt8>, _ offset: Int, _ count: Int) -> UInt64 {
        let part = utf8.extracting(offset..<offset + count)
        var word: UInt64 = 0
        var index = count - 1
        while index >= 0 {
            word = word << 8 | UInt64(part[index])
            index -= 1
        }
        return word
    }

    /// The number eight hexadecimal digits spell (the first, in the word's lowest byte, the
    /// most significant); nil when a byte is no digit. Each range test marks bit 7 of the bytes
    /// inside it, lane by lane without carries between lanes.
    @inline(__always)
    private static func digits(_ word: UInt64) -> UInt64? {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let low = word & 0x7F7F_7F7F_7F7F_7F7F
        /// Bytes strictly between `above` and `below` (and below 0x80).
        func between(_ above: UInt64, _ below: UInt64) -> UInt64 {
            (ones &* (127 + below) &- low) & ~word & (low &+ ones &* (127 - above)) & high
        }
        guard between(0x2F, 0x3A) | between(0x40, 0x47) | between(0x60, 0x67) == high else { return nil }
        // A digit's value is its low four bits, a letter's (bit 6 set) those plus 9.
        var value = (word & 0x0F0F_0F0F_0F0F_0F0F) &+ ((word & 0x4040_4040_4040_4040) >> 6) &* 9
        // Pack the eight nibbles, the first the highest: pairs, then fours, then all eight.
        value = (value << 4 | value >> 8) & 0x00FF_00FF_00FF_00FF
        value = (value << 8 | value >> 16) & 0x0000_FFFF_0000_FFFF
        return (value << 16 | value >> 32) & 0xFFFF_FFFF
    }

    /// Creates a token from 16 bytes (big-endian); nil unless exactly 16 bytes are given.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (offset, byte) in bytes.enumerated() {
            if offset < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.init(high: high, low: low)
    }

    /// A random version-4 UUID.
    public static func random() -> Token {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// A version-7 UUID (RFC 9562, 5.7) for `time`: the Unix time in milliseconds in the first
    /// 48 bits, then the version, 12 random bits, the variant and 62 random bits.
    ///
    /// The tokens the server hands out are these: made one after another, they sort by time, so
    /// each lands next to the last in a B-tree keyed by token (LMDB's `tokens`) instead of on a
    /// random leaf page, and a group commit of creates writes a few pages of that index rather
    /// than one per create. They are as unique as version-4 ones in practice (74 random bits per
    /// millisecond) and no more secret: a token names a workflow, the API key guards it.
    public static func timeOrdered(at time: Timestamp) -> Token {
        var generator = SystemRandomNumberGenerator()
        return timeOrdered(at: time, using: &generator)
    }

    /// ``timeOrdered(at:)`` with the random bits from `generator`. A time before 1970 counts as
    /// 1970; one past the 48 bits wraps (in the year 10889).
    public static func timeOrdered(at time: Timestamp, using generator: inout some RandomNumberGenerator) -> Token {
        let milliseconds = UInt64(max(0, time.milliseconds)) & 0xFFFF_FFFF_FFFF
        let high = milliseconds << 16 | 0x7000 | (generator.next() as UInt64) & 0x0FFF
        let low = (generator.next() as UInt64) & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        return Token(high: high, low: low)
    }

    /// A version-4 UUID drawn from `generator` (seeded generators give reproducible tokens).
    public static func random(using generator: inout some RandomNumberGenerator) -> Token {
        let high = (generator.next() as UInt64) & 0xFFFF_FFFF_FFFF_0FFF | 0x0000_0000_0000_4000
        let low = (generator.next() as UInt64) & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        return Token(high: high, low: low)
    }

    /// The 16 bytes, big-endian, without allocating (a key for lookups on the hot path).
    public var inlineBytes: InlineArray<16, UInt8> {
        var out = InlineArray<16, UInt8>(repeating: 0)
        for index in 0..<8 {
            out[index] = UInt8(truncatingIfNeeded: high >> (56 - 8 * index))
            out[8 + index] = UInt8(truncatingIfNeeded: low >> (56 - 8 * index))
        }
        return out
    }

    /// The 16 bytes, big-endian.
    public var bytes: [UInt8] {
        let inline = inlineBytes
        return (0..<16).map { inline[$0] }
    }

    /// The canonical lower-case form.
    public var description: String {
        let hex = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func < (lhs: Token, rhs: Token) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}

/// A point in time as Dependency-Track serialises it: milliseconds since the Unix epoch.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var milliseconds: Int64

    /// Creates a timestamp from epoch milliseconds.
    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }

    /// The timestamp `milliseconds` later (earlier when negative), saturating at the bounds.
    public func adding(milliseconds delta: Int64) -> Timestamp {
        let (sum, overflow) = milliseconds.addingReportingOverflow(delta)
        if overflow { return Timestamp(milliseconds: delta > 0 ? .max : .min) }
        return Timestamp(milliseconds: sum)
    }

    public var description: String { String(milliseconds) }
}
