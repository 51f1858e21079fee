public import WorkflowModel

/// Reads Hyades' `WORKFLOW_STATE` table exported as CSV with a header, as
/// `psql -c "\copy \"WORKFLOW_STATE\" TO 'file.csv' CSV HEADER"` writes it, and turns the rows
/// into workflows (one per `TOKEN`), resolving `PARENT_STEP_ID` among the rows of the same token.
///
/// - Columns are found by name (any order, case-insensitive): `ID`, `PARENT_STEP_ID`, `TOKEN`,
///   `STARTED_AT`, `UPDATED_AT`, `STEP`, `STATUS`, `FAILURE_REASON`; other columns are ignored.
/// - CSV as PostgreSQL writes it: `"` quotes (doubled inside), line breaks inside quotes, an
///   unquoted empty field is NULL. Times are `timestamptz` text (`2026-11-29 10:15:30.123+00`,
///   offsets `+HH`, `+HH:MM`, `Z`; none means UTC) and keep millisecond precision.
/// - A workflow's `createdAt` is its earliest `STARTED_AT`/`UPDATED_AT` (Hyades keeps no creation
///   time); it has no template, labels or creator, version 1, and all its steps as its definition.
///   A `FAILED` row without a reason gets `Failed (no reason recorded in Hyades)`, because bomflow
///   requires one.
/// - Any malformed row refuses its whole workflow: nothing partial is imported. Each problem is
///   reported with the line number where its row starts.
public enum HyadesImport {
    /// A workflow assembled from rows, with the line of its first row.
    public struct Entry: Sendable {
        public let line: Int
        public let workflow: Workflow
    }

    /// A refused row or workflow.
    public struct LineProblem: Error, Sendable, Equatable, CustomStringConvertible {
        public let line: Int
        public let message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// The outcome of reading a file: workflows in the order their first rows appear, and problems.
    public struct Outcome: Sendable {
        public var workflows: [Entry] = []
        public var problems: [LineProblem] = []
    }

    static let reasonWhenMissing = "Failed (no reason recorded in Hyades)"
    static let columns = [
        "ID", "PARENT_STEP_ID", "TOKEN", "STARTED_AT", "UPDATED_AT", "STEP", "STATUS", "FAILURE_REASON",
    ]

    private struct Row {
        let line: Int
        let id: Int64
        let parentID: Int64?
        let startedAt: Timestamp?
        let updatedAt: Timestamp
        let step: StepName
        let status: StepStatus
        let failureReason: String?
    }

    /// Reads the whole file.
    public static func read(_ bytes: [UInt8]) -> Outcome {
        var outcome = Outcome()
        var records = CSVRecords(bytes)
        guard let header = records.next() else {
            outcome.problems.append(LineProblem(line: 1, message: "the file is empty; a CSV header is expected"))
            return outcome
        }
        if let error = header.error {
            outcome.problems.append(LineProblem(line: header.line, message: error))
            return outcome
        }
        let names = header.fields.map { ($0 ?? "").uppercased() }
        var position: [String: Int] = [:]
        for column in columns {
            guard let index = names.firstIndex(of: column) else {
                outcome.problems.append(
                    LineProblem(
                        line: 1,
                        message: "the header has no \(column) column (expected \(columns.joined(separator: ",")))"))
                return outcome
            }
            position[column] = index
        }
        // Rows grouped by token, in the order tokens first appear; a token with a bad row is refused.
        var order: [Token] = []
        var rows: [Token: [Row]] = [:]
        var refused: [Token: LineProblem] = [:]
        while let record = records.next() {
            if let error = record.error {
                outcome.problems.append(LineProblem(line: record.line, message: error))
                // The rest of the file cannot be split into rows reliably.
                break
            }
            if record.fields.count == 1 && record.fields[0] == nil { continue }  // blank line
            guard record.fields.count == names.count else {
                outcome.problems.append(
                    LineProblem(
                        line: record.line, message: "\(record.fields.count) fields; the header has \(names.count)"))
                continue
            }
            func field(_ name: String) -> String? { record.fields[position[name]!] }
            guard let tokenText = field("TOKEN"), let token = Token(tokenText) else {
                outcome.problems.append(
                    LineProblem(line: record.line, message: "TOKEN \(field("TOKEN") ?? "NULL") is not a UUID"))
                continue
            }
            if rows[token] == nil && refused[token] == nil { order.append(token) }
            guard refused[token] == nil else { continue }
            switch parseRow(record.line, field) {
            case .success(let row): rows[token, default: []].append(row)
            case .failure(let problem):
                refused[token] = problem
                rows[token] = nil
            }
        }
        for token in order {
            if let problem = refused[token] {
                outcome.problems.append(
                    LineProblem(line: problem.line, message: "\(problem.message); workflow \(token) not imported"))
                continue
            }
            guard let tokenRows = rows[token] else { continue }
            switch assemble(token, tokenRows) {
            case .success(let workflow): outcome.workflows.append(Entry(line: tokenRows[0].line, workflow: workflow))
            case .failure(let problem): outcome.problems.append(problem)
            }
        }
        outcome.problems.sort { $0.line < $1.line }
        return outcome
    }

    private static func parseRow(_ line: Int, _ field: (String) -> String?) -> Result<Row, LineProblem> {
        func problem(_ message: String) -> Result<Row, LineProblem> {
            .failure(LineProblem(line: line, message: message))
        }
        guard let idText = field("ID"), let id = Int64(idText) else {
            return problem("ID \(field("ID") ?? "NULL") is not an integer")
        }
        var parentID: Int64?
        if let text = field("PARENT_STEP_ID") {
            guard let value = Int64(text) else { return problem("PARENT_STEP_ID \(text) is not an integer") }
            parentID = value
        }
        guard let updatedText = field("UPDATED_AT"), let updatedAt = parseTimestamp(updatedText) else {
            return problem("UPDATED_AT \(field("UPDATED_AT") ?? "NULL") is not a timestamp")
        }
        var startedAt: Timestamp?
        if let text = field("STARTED_AT") {
            guard let value = parseTimestamp(text) else { return problem("STARTED_AT \(text) is not a timestamp") }
            startedAt = value
        }
        guard let stepText = field("STEP"), let step = StepName(stepText) else {
            return problem("STEP \(field("STEP") ?? "NULL") is not a step name (^[A-Z][A-Z0-9_]{0,63}$)")
        }
        guard let statusText = field("STATUS"), let status = StepStatus(rawValue: statusText) else {
            return problem("STATUS \(field("STATUS") ?? "NULL") is not a workflow status")
        }
        return .success(
            Row(
                line: line, id: id, parentID: parentID, startedAt: startedAt, updatedAt: updatedAt, step: step,
                status: status, failureReason: field("FAILURE_REASON")))
    }

    private static func assemble(_ token: Token, _ rows: [Row]) -> Result<Workflow, LineProblem> {
        let sorted = rows.sorted { $0.id < $1.id }
        var byID: [Int64: Row] = [:]
        for row in sorted {
            if byID.updateValue(row, forKey: row.id) != nil {
                return .failure(
                    LineProblem(line: row.line, message: "ID \(row.id) repeats; workflow \(token) not imported"))
            }
        }
        var steps: [Step] = []
        for row in sorted {
            var parent: StepName?
            if let parentID = row.parentID {
                guard let parentRow = byID[parentID] else {
                    return .failure(
                        LineProblem(
                            line: row.line,
                            message: "PARENT_STEP_ID \(parentID) is not a row of token \(token); workflow not imported")
                    )
                }
                parent = parentRow.step
            }
            var reason = row.failureReason
            if row.status == .failed && (reason ?? "").isEmpty { reason = reasonWhenMissing }
            steps.append(
                Step(
                    name: row.step, parent: parent, status: row.status, startedAt: row.startedAt,
                    updatedAt: row.updatedAt, failureReason: reason, createdAs: .pending))
        }
        let createdAt = sorted.map { min($0.startedAt ?? $0.updatedAt, $0.updatedAt) }.min()!
        do {
            return .success(
                try Workflow.assemble(
                    token: token, createdAt: createdAt, template: nil, createdBy: nil, labels: Labels(), version: 1,
                    definitionStepCount: steps.count, steps: steps))
        } catch {
            return .failure(LineProblem(line: sorted[0].line, message: "\(error); workflow \(token) not imported"))
        }
    }

    // MARK: Timestamps

    /// `YYYY-MM-DD[ T]HH:MM:SS[.fraction][Z|±HH[:MM|MM]]` → epoch milliseconds (fraction cut to ms).
    static func parseTimestamp(_ text: String) -> Timestamp? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + digits] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            index += digits
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
            expect(" T"), let hour = number(2), expect(":"), let minute = number(2), expect(":"),
            let second = number(2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var milliseconds = 0
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) {
                if digits < 3 { milliseconds = milliseconds * 10 + Int(bytes[index] - 0x30) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            if digits < 3 { for _ in digits..<3 { milliseconds *= 10 } }
        }
        var offsetSeconds = 0
        if index < bytes.count {
            if bytes[index] == UInt8(ascii: "Z") {
                index += 1
            } else {
                let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
                guard expect("+-"), let hours = number(2), hours <= 15 else { return nil }
                var minutes = 0
                if index < bytes.count {
                    _ = expect(":")
                    guard let value = number(2), value < 60 else { return nil }
                    minutes = value
                }
                offsetSeconds = sign * (hours * 3600 + minutes * 60)
            }
        }
        guard index == bytes.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Timestamp(milliseconds: Int64(seconds) * 1000 + Int64(milliseconds))
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

/// CSV records as PostgreSQL's `COPY … CSV` writes them (RFC 4180 plus NULL as an unquoted empty
/// field). Each record carries the line it starts on; fields are nil for NULL.
struct CSVRecords {
    struct Record {
        let line: Int
        var fields: [String?]
        var error: String?
    }

    private let bytes: [UInt8]
    private var index = 0
    private var line = 1

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        // A UTF-8 byte order mark is not part of the header.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
    }

    mutating func next() -> Record? {
        guard index < bytes.count else { return nil }
        var record = Record(line: line, fields: [])
        var field: [UInt8] = []
        var quoted = false
        while true {
            // Start of a field.
            field.removeAll(keepingCapacity: true)
            quoted = false
            if index < bytes.count && bytes[index] == UInt8(ascii: "\"") {
                quoted = true
                index += 1
                var closed = false
                while index < bytes.count {
                    let byte = bytes[index]
                    index += 1
                    if byte == UInt8(ascii: "\"") {
                        if index < bytes.count && bytes[index] == UInt8(ascii: "\"") {
                            field.append(byte)
                            index += 1
                        } else {
                            closed = true
                            break
                        }
                    } else {
                        if byte == 0x0A { line += 1 }
                        field.append(byte)
                    }
                }
                guard closed else {
                    record.error = "a quoted field is not closed before the end of the file"
                    index = bytes.count
                    return record
                }
            } else {
                while index < bytes.count, bytes[index] != UInt8(ascii: ","), bytes[index] != 0x0A,
                    bytes[index] != 0x0D
                {
                    if bytes[index] == UInt8(ascii: "\"") {
                        record.error = "a quote inside an unquoted field"
                        skipToEndOfLine()
                        return record
                    }
                    field.append(bytes[index])
                    index += 1
                }
            }
            guard let text = String(validating: field, as: UTF8.self) else {
                record.error = "a field is not valid UTF-8"
                skipToEndOfLine()
                return record
            }
            record.fields.append(quoted || !field.isEmpty ? text : nil)
            // After a field: a comma, the end of the record, or garbage.
            if index >= bytes.count { return record }
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
            case 0x0D where index + 1 < bytes.count && bytes[index + 1] == 0x0A:
                index += 2
                line += 1
                return record
            case 0x0A:
                index += 1
                line += 1
                return record
            default:
                record.error = "text after a closing quote"
                skipToEndOfLine()
                return record
            }
        }
    }

    private mutating func skipToEndOfLine() {
        while index < bytes.count && bytes[index] != 0x0A { index += 1 }
        if index < bytes.count {
            index += 1
            line += 1
        }
    }
}
