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
}
