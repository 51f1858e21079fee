internal import JSON
internal import Storage
internal import WorkflowModel

// Request bodies decoded into typed values, one decoder per route, each refusing unknown members
// and wrong types with a message that names the member (400). Nothing is written before a body
// has decoded whole.

/// Decodes a JSON body with `decode`, turning every refusal into the one error type.
func decodeBody<T>(_ body: [UInt8], _ decode: (JSONObjectReader) throws -> T) throws(Problem) -> T {
    do {
        return try decode(try JSONObjectReader(try JSONValue.parse(body)))
    } catch let error as JSONError {
        throw Problem.refused(error)
    } catch let problem as Problem {
        throw problem
    } catch let error as WorkflowError {
        throw Problem.refused(error)
    } catch {
        throw Problem.internalError("request decoding: \(error)")
    }
}

/// A step name, or the model's refusal as a decoding error.
func decodeStepName(_ text: String, at path: String = "step") throws(JSONError) -> StepName {
    guard let name = StepName(text) else { throw .invalid(path, WorkflowError.invalidStepName(text).description) }
    return name
}

/// `POST /api/v1/workflow`: `{token?, template?, steps?, labels?}`.
struct CreateWorkflowRequest {
    var token: Token?
    var definition = WorkflowDefinition()
    var labels: Labels
    var concurrencyKey: String?

    static func decode(_ body: [UInt8]) throws(Problem) -> CreateWorkflowRequest {
        try decodeBody(body) { body in
            try body.allowOnly(["token", "template", "steps", "labels", "concurrencyKey", "priority"])
            var token: Token?
            if let text = try body.string("token") {
                guard let parsed = Token(text) else {
                    throw JSONError.invalid("token", "token '\(text)' is not a UUID")
                }
                token = parsed
            }
            var definition = WorkflowDefinition()
            if let name = try body.string("template") {
                guard let template = Template(rawValue: name) else {
                    throw JSONError.invalid(
                        "template",
                        "Unknown template '\(name)'; one of \(Template.allCases.map(\.rawValue).joined(separator: ", "))"
                    )
                }
                definition.template = template
            }
            definition.steps = try stepSpecs(body.array("steps") ?? [])
            let labels = try Labels(try body.stringMap("labels") ?? [:])
            let key = try body.string("concurrencyKey")
            if let key { try Workflow.validateConcurrencyKey(key) }
            if let priority = try body.integer("priority") {
                guard Workflow.priorities.contains(Int(clamping: priority)) else {
                    throw JSONError.invalid("priority", "priority is 0 to 100")
                }
                definition.priority = Int(priority)
            }
            return CreateWorkflowRequest(token: token, definition: definition, labels: labels, concurrencyKey: key)
        }
    }
}

/// `steps` of a create or add-steps body: `[{step, parent?, status?}]`.
func stepSpecs(_ values: [JSONValue]) throws(JSONError) -> [StepSpec] {
    var specs: [StepSpec] = []
    for (index, value) in values.enumerated() {
        let path = "steps[\(index)]"
        let item = try JSONObjectReader(value, context: path)
        try item.allowOnly(["step", "parent", "status"])
        guard let raw = try item.string("step") else { throw .invalid(path + ".step", "\(path).step is required") }
        let name = try decodeStepName(raw, at: path + ".step")
        let parent = try item.string("parent").map { (text) throws(JSONError) in
            try decodeStepName(text, at: path + ".parent")
        }
        var status = StepStatus.pending
        if let text = try item.string("status") {
            guard let parsed = StepStatus(rawValue: text) else {
                throw .invalid(path + ".status", "Unknown status '\(text)'")
            }
            status = parsed
        }
        specs.append(StepSpec(name, parent: parent, status: status))
    }
    return specs
}

/// `POST /api/v1/workflow/token/{uuid}/steps`: `{steps}`.
struct AddStepsRequest {
    var steps: [StepSpec]

    static func decode(_ body: [UInt8]) throws(Problem) -> AddStepsRequest {
        try decodeBody(body) { body in
            try body.allowOnly(["steps"])
            return AddStepsRequest(steps: try stepSpecs(body.array("steps") ?? []))
        }
    }
}

/// `{status, failureReason?}` or `{started: true}` (a step update, alone or in a batch).
func stepCommand(_ body: JSONObjectReader, context: String) throws(JSONError) -> StepCommand {
    if let started = try body.bool("started") {
        guard started, !body.has("status"), !body.has("failureReason") else {
            throw .invalid(context, "\(context): send either {\"started\": true} or {\"status\", \"failureReason\"}")
        }
        return .start
    }
    guard let text = try body.string("status") else { throw .invalid(context, "\(context): status is required") }
    guard let status = StepStatus(rawValue: text) else { throw .invalid(context, "Unknown status '\(text)'") }
    return .setStatus(status, failureReason: try body.string("failureReason"))
}

/// The `worker` member of a step write: who claims to hold the step (checked by
/// ``WorkflowService/actor(worker:_:)``, since an ADMIN key's is not used).
func decodeWorker(_ body: JSONObjectReader) throws(JSONError) -> String? { try body.string("worker") }

/// `PATCH …/step/{step}`: `{status, failureReason?, worker?}` or `{started: true, worker?}`.
struct StepUpdateRequest {
    var command: StepCommand
    var worker: String?

    static func decode(_ body: [UInt8]) throws(Problem) -> StepUpdateRequest {
        try decodeBody(body) { body in
            try body.allowOnly(["status", "failureReason", "started", "worker"])
            return StepUpdateRequest(command: try stepCommand(body, context: "body"), worker: try decodeWorker(body))
        }
    }
}

/// `POST …/step/{step}/progress`: `{expected?, failureThreshold?, completed?, failed?, worker?}`.
struct ProgressRequest {
    var update: ProgressUpdate
    var worker: String?

    static func decode(_ body: [UInt8]) throws(Problem) -> ProgressRequest {
        try decodeBody(body) { body in
            try body.allowOnly(["expected", "failureThreshold", "completed", "failed", "worker"])
            let update = ProgressUpdate(
                expected: try body.integer("expected"), failureThreshold: try body.number("failureThreshold"),
                addCompleted: try body.integer("completed") ?? 0, addFailed: try body.integer("failed") ?? 0)
            return ProgressRequest(update: update, worker: try decodeWorker(body))
        }
    }
}

/// `POST …/restart`: `{step}`.
struct RestartRequest {
    var step: StepName

    static func decode(_ body: [UInt8]) throws(Problem) -> RestartRequest {
        try decodeBody(body) { body in
            try body.allowOnly(["step"])
            guard let text = try body.string("step") else {
                throw JSONError.invalid("step", "step is required: the step to restart from")
            }
            return RestartRequest(step: try decodeStepName(text))
        }
    }
}

/// `POST …/token/{uuid}/cancel`: `{reason?}` (an empty body is `{}`).
struct CancelRequest {
    /// The reason the cancelled steps carry when the client gives none.
    static let defaultReason = "Cancelled"
    var reason: String

    static func decode(_ body: [UInt8]) throws(Problem) -> CancelRequest {
        guard !body.isEmpty else { return CancelRequest(reason: defaultReason) }
        return try decodeBody(body) { body in
            try body.allowOnly(["reason"])
            return CancelRequest(reason: try body.string("reason") ?? defaultReason)
        }
    }
}

/// `POST …/step/{step}/release`: empty, or `{worker?}` (the holder giving the step up; an ADMIN
/// key may take it from anyone).
struct ReleaseRequest {
    var worker: String?

    static func decode(_ body: [UInt8]) throws(Problem) -> ReleaseRequest {
        guard !body.isEmpty else { return ReleaseRequest(worker: nil) }
        return try decodeBody(body) { body in
            try body.allowOnly(["worker"])
            return ReleaseRequest(worker: try decodeWorker(body))
        }
    }
}

/// `POST /api/v1/workflow/steps`: `{"updates": [{token, step, status, failureReason?} | {token, step, started}]}`.
struct BatchRequest {
    var operations: [WriteOperation]

    static func decode(_ body: [UInt8]) throws(Problem) -> BatchRequest {
        try decodeBody(body) { body in
            try body.allowOnly(["updates"])
            guard let items = try body.array("updates"), !items.isEmpty else {
                throw JSONError.invalid("updates", "updates must be a non-empty array")
            }
            guard items.count <= APILimits.batchUpdates else {
                throw JSONError.invalid("updates", "at most \(APILimits.batchUpdates) updates per batch")
            }
            var operations: [WriteOperation] = []
            for (index, value) in items.enumerated() {
                let path = "updates[\(index)]"
                let item = try JSONObjectReader(value, context: path)
                try item.allowOnly(["token", "step", "status", "failureReason", "started"])
                guard let text = try item.string("token"), let token = Token(text) else {
                    throw JSONError.invalid(path + ".token", "\(path).token must be a UUID")
                }
                guard let stepText = try item.string("step") else {
                    throw JSONError.invalid(path + ".step", "\(path).step is required")
                }
                operations.append(
                    .update(
                        token: token, step: try decodeStepName(stepText, at: path + ".step"),
                        command: try stepCommand(item, context: path)))
            }
            return BatchRequest(operations: operations)
        }
    }
}

/// `POST /api/v1/workflow/claim`: `{steps, worker, leaseSeconds, max?, waitSeconds?}`.
struct ClaimRequest {
    var steps: [StepName]
    var worker: String
    var leaseSeconds: Int64
    var max: Int
    var waitSeconds: Double

    static func decode(_ body: [UInt8]) throws(Problem) -> ClaimRequest {
        try decodeBody(body) { body in
            try body.allowOnly(["steps", "worker", "leaseSeconds", "max", "waitSeconds"])
            let kinds = APILimits.claimStepKinds
            guard let values = try body.array("steps"), kinds.contains(values.count) else {
                throw JSONError.invalid(
                    "steps", "steps must name \(kinds.lowerBound) to \(kinds.upperBound) step kinds")
            }
            var steps: [StepName] = []
            for value in values {
                guard case .string(let text) = value else {
                    throw JSONError.invalid("steps", "steps must be step names")
                }
                steps.append(try decodeStepName(text, at: "steps"))
            }
            guard let worker = try body.string("worker") else {
                throw JSONError.invalid("worker", "worker is required")
            }
            let leaseSeconds = try decodeLeaseSeconds(body)
            let max = try body.integer("max") ?? 1
            guard APILimits.claimMax.contains(max) else {
                throw JSONError.invalid(
                    "max", "max is \(APILimits.claimMax.lowerBound) to \(APILimits.claimMax.upperBound)")
            }
            let wait = try body.number("waitSeconds") ?? 0
            guard wait.isFinite, APILimits.waitSeconds.contains(wait) else {
                throw JSONError.invalid("waitSeconds", "waitSeconds is 0 to \(Int(APILimits.waitSeconds.upperBound))")
            }
            try Workflow.validateWorker(worker)
            return ClaimRequest(
                steps: steps, worker: worker, leaseSeconds: leaseSeconds, max: Int(max), waitSeconds: wait)
        }
    }
}

/// `leaseSeconds`, required, within ``APILimits/leaseSeconds``.
func decodeLeaseSeconds(_ body: JSONObjectReader) throws(JSONError) -> Int64 {
    let range = APILimits.leaseSeconds
    guard let seconds = try body.integer("leaseSeconds"), range.contains(seconds) else {
        throw .invalid("leaseSeconds", "leaseSeconds is required, \(range.lowerBound) to \(range.upperBound)")
    }
    return seconds
}

/// `POST …/step/{step}/heartbeat`: `{worker, leaseSeconds}` (an ADMIN key may omit `worker`).
struct HeartbeatRequest {
    var leaseSeconds: Int64
    var worker: String?

    static func decode(_ body: [UInt8], isAdmin: Bool) throws(Problem) -> HeartbeatRequest {
        try decodeBody(body) { body in
            try body.allowOnly(["worker", "leaseSeconds"])
            let leaseSeconds = try decodeLeaseSeconds(body)
            guard body.has("worker") || isAdmin else { throw JSONError.invalid("worker", "worker is required") }
            return HeartbeatRequest(leaseSeconds: leaseSeconds, worker: try decodeWorker(body))
        }
    }
}
