internal import JSON
public import WorkflowModel

/// The JSON Lines format of `bomflow export` and `bomflow import`: one workflow per line, with
/// everything the store keeps, so that export → import → export gives the same bytes.
///
/// ```json
/// {"token":"…","createdAt":1767225600000,"template":"BOM_UPLOAD","createdBy":"ci","labels":{"project":"acme"},
///  "version":3,"definitionSteps":5,"steps":[{"step":"BOM_CONSUMPTION","status":"COMPLETED",
///  "startedAt":1767225600100,"updatedAt":1767225601000}, …]}
/// ```
///
/// Step members: `step`, `status`, `updatedAt` (required), `parent`, `startedAt`, `failureReason`,
/// `progress` (`{expected?, completed, failed, failureThreshold}`), `createdAs` (omitted when
/// `PENDING`), `readyAt` (while the step is ready: its place in the ready queue; filled from
/// `updatedAt` when missing), `attempts` (claims so far, omitted when 0) and `claim` (`{worker,
/// attempt, leaseExpiresAt}` while a worker holds the step). Times are epoch milliseconds. Unknown members are refused, like in the API.
public enum WorkflowExchange {
    /// One line (without the newline).
    public static func encode(_ workflow: Workflow) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        WorkflowShapes.writeMetadata(of: workflow, into: &json, defaultPriority: false)
        json.member("definitionSteps", Int64(workflow.definitionStepCount))
        json.key("steps")
        json.beginArray()
        for step in workflow.steps {
            json.beginObject()
            json.member("step", step.name.rawValue)
            json.member("status", step.status.rawValue)
            if step.createdAs != .pending { json.member("createdAs", step.createdAs.rawValue) }
            if let parent = step.parent { json.member("parent", parent.rawValue) }
            if let startedAt = step.startedAt { json.member("startedAt", startedAt.milliseconds) }
            json.member("updatedAt", step.updatedAt.milliseconds)
            if let reason = step.failureReason { json.member("failureReason", reason) }
            if let readyAt = step.readyAt { json.member("readyAt", readyAt.milliseconds) }
            WorkflowShapes.writeWork(of: step, into: &json)
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.bytes
    }

    /// Parses and validates one line.
    /// - Throws: ``WorkflowExchangeError`` saying what is wrong (the caller adds the line number).
    public static func decode(_ line: [UInt8]) throws(WorkflowExchangeError) -> Workflow {
        do {
            return try decodeChecked(line)
        } catch let refusal as JSONError {
            throw WorkflowExchangeError(refusal.message)
        } catch let refusal as WorkflowError {
            throw WorkflowExchangeError(refusal.description)
        } catch {
            throw WorkflowExchangeError(String(describing: error))
        }
    }

    private static func decodeChecked(_ line: [UInt8]) throws -> Workflow {
        let root = try JSONObjectReader(try JSONValue.parse(line, what: "The line"), context: "the line")
        try root.allowOnly([
            "token", "createdAt", "template", "createdBy", "labels", "version", "definitionSteps", "steps",
            "concurrencyKey", "held", "priority",
        ])
        // `held` is written for readers; the importing store decides it from the key's queue.
        _ = try root.bool("held")
        guard let tokenText = try root.string("token"), let token = Token(tokenText) else {
            throw JSONError.invalid("token", "token must be a UUID")
        }
        let createdAt = try required(root.integer("createdAt"), "createdAt")
        let template: Template?
        if let name = try root.string("template") {
            guard let known = Template(rawValue: name) else {
                throw JSONError.invalid("template", "unknown template \(name)")
            }
            template = known
        } else {
            template = nil
        }
        let labels = try Labels(try root.stringMap("labels") ?? [:])
        let version = try required(root.integer("version"), "version")
        guard version >= 1 else { throw JSONError.invalid("version", "version must be at least 1") }
        let stepValues = try required(root.array("steps"), "steps")
        var steps: [Step] = []
        for (index, value) in stepValues.enumerated() {
            steps.append(try step(value, context: "steps[\(index)]"))
        }
        let definitionSteps = try root.integer("definitionSteps") ?? Int64(steps.count)
        return try Workflow.assemble(
            token: token, createdAt: Timestamp(milliseconds: createdAt), template: template,
            createdBy: try root.string("createdBy"), labels: labels, version: UInt64(version),
            definitionStepCount: Int(clamping: definitionSteps), steps: steps,
            concurrencyKey: try root.string("concurrencyKey"),
            priority: Int(clamping: try root.integer("priority") ?? Int64(Workflow.defaultPriority)))
    }

    private static func step(_ value: JSONValue, context: String) throws -> Step {
        let object = try JSONObjectReader(value, context: context)
        try object.allowOnly([
            "step", "status", "createdAs", "parent", "startedAt", "updatedAt", "failureReason", "progress", "attempts",
            "claim", "readyAt",
        ])
        let name = try stepName(try required(object.string("step"), "\(context).step"))
        var step = Step(
            name: name, parent: try object.string("parent").map(stepName),
            status: try status(try required(object.string("status"), "\(context).status")),
            updatedAt: Timestamp(milliseconds: try required(object.integer("updatedAt"), "\(context).updatedAt")))
        step.createdAs = try object.string("createdAs").map(status) ?? .pending
        step.startedAt = try object.integer("startedAt").map(Timestamp.init(milliseconds:))
        step.failureReason = try object.string("failureReason")
        step.attempts = Int(clamping: try object.integer("attempts") ?? 0)
        step.readyAt = try object.integer("readyAt").map(Timestamp.init(milliseconds:))
        if object.has("claim") {
            let claim = try JSONObjectReader(try required(object.value("claim"), "claim"), context: "\(context).claim")
            try claim.allowOnly(["worker", "attempt", "leaseExpiresAt"])
            step.claim = Claim(
                worker: try required(claim.string("worker"), "\(context).claim.worker"),
                attempt: Int(clamping: try required(claim.integer("attempt"), "\(context).claim.attempt")),
                leaseExpiresAt: Timestamp(
                    milliseconds: try required(claim.integer("leaseExpiresAt"), "\(context).claim.leaseExpiresAt")))
        }
        if object.has("progress") {
            let progress = try JSONObjectReader(
                try required(object.value("progress"), "progress"), context: "\(context).progress")
            try progress.allowOnly(["expected", "completed", "failed", "failureThreshold"])
            step.progress = Progress(
                expected: try progress.integer("expected"), completed: try progress.integer("completed") ?? 0,
                failed: try progress.integer("failed") ?? 0, failureThreshold: try progress.number("failureThreshold"))
        }
        return step
    }

    private static func stepName(_ text: String) throws -> StepName {
        guard let name = StepName(text) else { throw WorkflowError.invalidStepName(text) }
        return name
    }

    private static func status(_ text: String) throws -> StepStatus {
        guard let status = StepStatus(rawValue: text) else {
            throw JSONError.invalid("status", "unknown status \(text)")
        }
        return status
    }

    private static func required<T>(_ value: T?, _ name: String) throws -> T {
        guard let value else { throw JSONError.invalid(name, "\(name) is required") }
        return value
    }
}

/// Why a line of an import file was refused.
public struct WorkflowExchangeError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
