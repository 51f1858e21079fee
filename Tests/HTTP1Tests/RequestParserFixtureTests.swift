import Foundation
import HTTP1
import TestSupport
import Testing

/// Every raw request in fixtures/http/ (exact CRLF bytes; the expected outcomes in the file
/// name, `200` a complete request, `100` a head asking for 100-continue, a 4xx/5xx code a parse error,
/// `wait` an incomplete request) parsed in one piece and byte by byte.
struct RequestParserFixtureTests {
    struct Fixture: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let expected: [String]
        var testDescription: String { name }
    }

    static let fixtures: [Fixture] = {
        let directory = RepositoryPaths.fixtures.appendingPathComponent("http")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".http") }.sorted().compactMap { name in
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) else {
                return nil
            }
            let parts = name.dropLast(".http".count).split(separator: ".")
            return Fixture(
                name: name, bytes: Array(data),
                expected: parts.last.map { $0.split(separator: "-").map(String.init) } ?? [])
        }
    }()

    /// Feeds `chunks` and records the outcomes until the input is used up or parsing failed.
    static func outcomes(_ chunks: [[UInt8]]) -> [String] {
        var parser = RequestParser()
        var result: [String] = []
        for chunk in chunks {
            parser.append(chunk)
            loop: while true {
                switch parser.next() {
                case .needMoreBytes: break loop
                case .head(_, let expectContinue): if expectContinue { result.append("100") }
                case .request: result.append("200")
                case .failed(let error):
                    result.append(String(error.status.code))
                    return result
                }
            }
        }
        if !parser.isIdle { result.append("wait") }
        return result
    }

    @Test func fixturesArePresent() {
        #expect(Self.fixtures.count >= 90)
    }

    @Test(arguments: fixtures)
    func inOnePiece(fixture: Fixture) {
        #expect(Self.outcomes([fixture.bytes]) == fixture.expected)
    }

    @Test(arguments: fixtures)
    func byteByByteGivesTheSameOutcome(fixture: Fixture) {
        #expect(Self.outcomes(fixture.bytes.map { [$0] }) == fixture.expected)
    }

    @Test(arguments: fixtures)
    func inRandomPiecesGivesTheSameOutcome(fixture: Fixture) {
        var generator = SplitMix(seed: UInt64(fixture.bytes.count))
        var chunks: [[UInt8]] = []
        var index = 0
        while index < fixture.bytes.count {
            let length = Int(generator.next() % 97) + 1
            chunks.append(Array(fixture.bytes[index..<min(index + length, fixture.bytes.count)]))
            index += length
        }
        #expect(Self.outcomes(chunks) == fixture.expected)
    }
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
