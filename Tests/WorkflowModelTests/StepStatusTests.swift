import Foundation
import TestSupport
import Testing
import WorkflowModel

/// The transition table of DESIGN.md §1, read from fixtures/transitions/step-status.json.
struct StepStatusTests {
    struct Row: Sendable, CustomTestStringConvertible {
        let from: StepStatus
        let to: StepStatus
        let outcome: String
        var testDescription: String { "\(from.rawValue) → \(to.rawValue): \(outcome)" }
    }

    static let rows: [Row] = {
        let url = RepositoryPaths.fixtures.appendingPathComponent("transitions/step-status.json")
        guard let data = try? Data(contentsOf: url),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let table = object["table"] as? [String: [String: String]]
        else { return [] }
        return table.flatMap { from, targets in
            targets.compactMap { to, outcome in
                guard let from = StepStatus(rawValue: from), let to = StepStatus(rawValue: to) else { return nil }
                return Row(from: from, to: to, outcome: outcome)
            }
        }.sorted { ($0.from.rawValue, $0.to.rawValue) < ($1.from.rawValue, $1.to.rawValue) }
    }()

    @Test func fixtureCoversEveryPair() {
        #expect(Self.rows.count == StepStatus.allCases.count * StepStatus.allCases.count)
    }

    @Test(arguments: rows)
    func statusUpdateFollowsTheTable(row: Row) {
        let expected: StepStatus.UpdateOutcome? =
            switch row.outcome {
            case "changes": .changes
            case "repeats": .repeats
            default: nil
            }
        #expect(row.from.update(to: row.to) == expected)
    }

    /// The same table through a whole workflow: a refused update throws and changes nothing,
    /// a repeat reports no change, a change moves the step.
    @Test(arguments: rows)
    func workflowApplyFollowsTheTable(row: Row) throws {
        let now = Timestamp(milliseconds: 1_000)
        let step = Step(
            name: .make("SCAN"), status: row.from, updatedAt: now,
            failureReason: row.from == .failed ? "first reason" : nil)
        var workflow = Workflow(
            token: .make(1), createdAt: now, template: nil, createdBy: nil, labels: Labels(), version: 1,
            definitionStepCount: 1, steps: [step])
        let before = workflow
        let reason = row.to == .failed ? "second reason" : nil
        let later = Timestamp(milliseconds: 2_000)
        switch row.outcome {
        case "changes":
            let changed = try workflow.apply(.setStatus(row.to, failureReason: reason), to: .make("SCAN"), now: later)
            #expect(changed)
            #expect(workflow.steps[0].status == row.to)
            #expect(workflow.steps[0].updatedAt == later)
            #expect(workflow.steps[0].failureReason == reason)
        case "repeats":
            let changed = try workflow.apply(.setStatus(row.to, failureReason: reason), to: .make("SCAN"), now: later)
            #expect(!changed)
            #expect(workflow == before, "an idempotent repeat changes nothing, the first reason stays")
        default:
            #expect(throws: WorkflowError.invalidTransition(step: .make("SCAN"), from: row.from, to: row.to)) {
                try workflow.apply(.setStatus(row.to, failureReason: reason), to: .make("SCAN"), now: later)
            }
            #expect(workflow == before)
        }
    }

    @Test func terminalStatuses() {
        #expect(StepStatus.allCases.filter(\.isTerminal) == [.completed, .failed, .cancelled, .notApplicable])
    }
}

struct StepNameTests {
    @Test(arguments: [
        ("BOM_CONSUMPTION", true), ("A", true), ("X9_", true), (String(repeating: "A", count: 64), true),
        (String(repeating: "A", count: 65), false), ("", false), ("bom", false), ("9ABC", false), ("_A", false),
        ("A-B", false), ("A B", false), ("ÄB", false),
    ])
    func validation(text: String, valid: Bool) {
        #expect((StepName(text) != nil) == valid)
    }

    @Test func builtInNamesAreDependencyTracks() {
        #expect(
            StepName.builtIn.map(\.rawValue) == [
                "BOM_CONSUMPTION", "BOM_PROCESSING", "VULN_ANALYSIS", "REPO_META_ANALYSIS", "POLICY_EVALUATION",
                "METRICS_UPDATE", "POLICY_BUNDLE_SYNC", "PROJECT_CLONE",
            ])
    }
}

struct TokenTests {
    @Test func roundTripsTheCanonicalForm() throws {
        let text = "3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab"
        let token = try #require(Token(text))
        #expect(token.description == text)
        #expect(Token(text.uppercased()) == token)
        #expect(Token(bytes: token.bytes) == token)
    }

    @Test func inlineBytesAreTheBytes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100 {
            let token = Token.random(using: &generator)
            let inline = token.inlineBytes
            let copied = (0..<16).map { inline[$0] }
            #expect(copied == token.bytes)
        }
    }

    @Test(arguments: [
        "", "3d0d3c5e7d4b4a5e9c1f0123456789ab", "3d0d3c5e-7d4b-4a5e-9c1f-0123456789a",
        "3d0d3c5e-7d4b-4a5e-9c1f-0123456789abc", "3d0d3c5e-7d4b-4a5e-9c1f_0123456789ab",
        "gd0d3c5e-7d4b-4a5e-9c1f-0123456789ab", "{3d0d3c5e-7d4b-4a5e-9c1f-0123456789a}",
    ])
    func rejectsMalformedText(text: String) {
        #expect(Token(text) == nil)
    }

    @Test func everyPositionRefusesEveryNonDigit() throws {
        // The parse decides a whole group without a branch per digit: each position must still
        // refuse each byte that is no hexadecimal digit (and no dash at a dash's place).
        let text = Array("3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab".utf8)
        let digits = Set("0123456789abcdefABCDEF".utf8)
        for position in text.indices {
            for value in 0...255 {
                var bytes = text
                bytes[position] = UInt8(value)
                let isDash = [8, 13, 18, 23].contains(position)
                let valid = isDash ? value == Int(UInt8(ascii: "-")) : digits.contains(UInt8(value))
                let parsed = Token(utf8: bytes.span)
                #expect((parsed != nil) == valid, "byte \(value) at \(position)")
            }
        }
    }

    @Test func bytesAndTextParseAlike() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100 {
            let token = Token.random(using: &generator)
            let upper = Array(token.description.uppercased().utf8)
            #expect(Token(utf8: Array(token.description.utf8).span) == token)
            #expect(Token(utf8: upper.span) == token)
        }
    }

    @Test func randomTokensAreVersion4() {
        let token = Token.random()
        let text = token.description
        #expect(Array(text)[14] == "4")
        #expect("89ab".contains(Array(text)[19]))
    }

    /// RFC 9562, 5.7: the milliseconds in the first 48 bits, version 7, variant 10, the rest random.
    @Test func timeOrderedTokensAreVersion7WithTheirMilliseconds() {
        let time = Timestamp(milliseconds: 1_796_331_367_778)  // 2026-12-03T20:56:07.778Z
        let token = Token.timeOrdered(at: time)
        let text = Array(token.description)
        #expect(
            String(text[0..<8]) + String(text[9..<13])
                == String(UInt64(time.milliseconds), radix: 16, uppercase: false)
                .leftPadded(to: 12))
        #expect(text[14] == "7")
        #expect("89ab".contains(text[19]))
        #expect(Token(token.description) == token)
        // The random bits differ; the time does not.
        let other = Token.timeOrdered(at: time)
        #expect(other != token)
        #expect(other.high >> 16 == token.high >> 16)
        // Before 1970 counts as 1970.
        #expect(Token.timeOrdered(at: Timestamp(milliseconds: -5)).high >> 16 == 0)
    }

    /// Tokens of later milliseconds sort after earlier ones, whatever their random bits: a B-tree
    /// keyed by token takes them at one edge.
    @Test func timeOrderedTokensSortByTime() {
        var generator = SystemRandomNumberGenerator()
        var previous: Token?
        var milliseconds: Int64 = 1_700_000_000_000
        for step in 0..<2_000 {
            milliseconds += Int64.random(in: 1...3)
            let token = Token.timeOrdered(at: Timestamp(milliseconds: milliseconds), using: &generator)
            if let previous { #expect(previous < token, "step \(step)") }
            previous = token
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
