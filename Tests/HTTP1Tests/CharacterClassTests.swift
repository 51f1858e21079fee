import Testing

@testable import HTTP1

/// The parser's byte classes (switches; bit masks measured slower under callgrind): each is
/// checked, for all 256 byte values, against its set written out as the RFCs list it.
struct CharacterClassTests {
    static let alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    static let digit = "0123456789"
    static let unreserved = alpha + digit + "-._~"
    static let subDelims = "!$&'()*+,;="

    func check(_ name: String, _ predicate: (UInt8) -> Bool, _ members: String) {
        let set = Set(members.utf8)
        for value in 0...255 {
            let byte = UInt8(value)
            #expect(predicate(byte) == set.contains(byte), "\(name): byte \(value)")
        }
    }

    @Test func tokenIsRFC9110Tchar() {
        check("token", isTokenByte, Self.alpha + Self.digit + "!#$%&'*+-.^_`|~")
    }

    @Test func targetIsRFC3986PcharSlashAndQuestionMark() {
        check("target", isTargetByte, Self.unreserved + Self.subDelims + ":@/?")
    }

    @Test func hostIsRegNameIPLiteralAndPort() {
        check("host", isHostByte, Self.unreserved + Self.subDelims + ":[]%")
    }

    @Test func aPlainWordIsEightLettersDigitsDashesOrSlashes() {
        // The target's eight-byte test against the byte-wise rule: every byte value in every
        // lane, the other lanes plain; then words of random bytes drawn mostly from near the
        // ranges' edges.
        let plain = Set((Self.alpha + Self.digit + "-/").utf8)
        func word(_ bytes: [UInt8]) -> UInt64 {
            bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        }
        for lane in 0..<8 {
            for value in 0...255 {
                var bytes = Array("aZ09-/az".utf8)
                bytes[lane] = UInt8(value)
                #expect(
                    RequestParser.isPlainTargetWord(word(bytes)) == plain.contains(UInt8(value)),
                    "byte \(value) in lane \(lane)")
            }
        }
        let edges: [UInt8] = [
            0x00, 0x2C, 0x2D, 0x2E, 0x2F, 0x30, 0x39, 0x3A, 0x40, 0x41, 0x5A, 0x5B, 0x60, 0x61, 0x7A, 0x7B,
            0x7F, 0x80, 0xAD, 0xAF, 0xB0, 0xC1, 0xE1, 0xFF,
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let bytes = (0..<8).map { _ in
                Bool.random(using: &generator)
                    ? edges.randomElement(using: &generator)! : UInt8.random(in: 0...255, using: &generator)
            }
            #expect(RequestParser.isPlainTargetWord(word(bytes)) == bytes.allSatisfy(plain.contains), "\(bytes)")
        }
    }

    /// The parser's eight-at-a-time byte search finds what a plain scan finds, for every range
    /// of random buffers dense with the byte, its neighbours and bytes that borrow (0x00, 0x80,
    /// 0xFF): a false mark below the true one, or a missed one, would move a request line's
    /// split or a field's colon.
    @Test func theWordwiseByteSearchFindsTheFirstOccurrence() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let byte = [UInt8(0x20), 0x3A, 0x2F, 0x00, 0x80, 0xFF].randomElement(using: &generator)!
            let alphabet: [UInt8] = [byte, byte &- 1, byte &+ 1, 0x00, 0x01, 0x7F, 0x80, 0xFF, 0x41]
            let count = Int.random(in: 0...40, using: &generator)
            let bytes = (0..<count).map { _ in
                Int.random(in: 0..<4, using: &generator) == 0
                    ? alphabet.randomElement(using: &generator)! : UInt8.random(in: 0...255, using: &generator)
            }
            let lower = Int.random(in: 0...count, using: &generator)
            let upper = Int.random(in: lower...count, using: &generator)
            let expected = bytes[lower..<upper].firstIndex(of: byte)
            #expect(
                firstOffset(of: byte, in: bytes.span, lower..<upper) == expected,
                "\(byte) in \(bytes) \(lower)..<\(upper)")
        }
    }
}
