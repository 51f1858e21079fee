import Foundation
import HTTP1
import Testing
import WorkflowModel

@testable import WorkflowAPI

/// The OpenAPI document (Sources/WorkflowAPI/openapi.json) against the code: the same routes,
/// the same permissions, the same limits, the code's version.
struct OpenAPITests {
    let document: [String: Any]

    init() throws {
        document = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.bytes)) as? [String: Any])
    }

    var operations: [(signature: String, operation: [String: Any])] {
        let paths = document["paths"] as? [String: [String: Any]] ?? [:]
        return paths.flatMap { path, methods in
            methods.compactMap { method, operation in
                (operation as? [String: Any]).map { ("\(method.uppercased()) \(path)", $0) }
            }
        }
    }

    /// The document describes exactly the routes the router serves.
    @Test func documentPathsAreTheRoutes() throws {
        #expect(document["openapi"] as? String == "3.1.0")
        #expect(Set(operations.map(\.signature)) == Set(WorkflowService.routeSignatures))
    }

    /// Each operation's security says what the route's declared permission says: public routes
    /// have `security: []`, the others the default schemes and their permission by name.
    @Test func securityIsTheRoutesPermission() throws {
        let routes = Dictionary(uniqueKeysWithValues: WorkflowService.routes.map { ($0.signature, $0) })
        for (signature, operation) in operations {
            let route = try #require(routes[signature])
            let documented = operation["x-bomflow-permission"] as? String
            if let permission = route.permission {
                #expect(operation["security"] == nil, "\(signature) must use the default security")
                #expect(documented == permission.name, "\(signature)")
            } else {
                #expect((operation["security"] as? [Any])?.isEmpty == true, "\(signature) is public")
                #expect(documented == "NONE", "\(signature)")
            }
        }
    }

    /// `info.version` is filled from the one version constant.
    @Test func versionIsTheCodes() throws {
        let info = try #require(document["info"] as? [String: Any])
        #expect(info["version"] as? String == BomflowVersion.current)
    }

    /// Every bound the document states is the constant the code checks.
    @Test func limitsAreTheCodes() throws {
        func value(_ pointer: String) -> Int? {
            var node: Any = document
            for raw in pointer.split(separator: "/") {
                let key = raw.replacingOccurrences(of: "~1", with: "/")
                if let object = node as? [String: Any], let next = object[key] {
                    node = next
                } else if let array = node as? [Any], let index = Int(key), index < array.count {
                    node = array[index]
                } else {
                    return nil
                }
            }
            return (node as? NSNumber)?.intValue
        }
        let claim = "paths/~1api~1v1~1workflow~1claim/post/requestBody/content/application~1json/schema/properties/"
        let heartbeat =
            "paths/~1api~1v1~1workflow~1token~1{uuid}~1step~1{step}~1heartbeat/post/requestBody/content/application~1json/schema/properties/"
        let progress =
            "paths/~1api~1v1~1workflow~1token~1{uuid}~1step~1{step}~1progress/post/requestBody/content/application~1json/schema/properties/"
        let expected: [(String, Int)] = [
            (claim + "leaseSeconds/minimum", Int(APILimits.leaseSeconds.lowerBound)),
            (claim + "leaseSeconds/maximum", Int(APILimits.leaseSeconds.upperBound)),
            (heartbeat + "leaseSeconds/minimum", Int(APILimits.leaseSeconds.lowerBound)),
            (heartbeat + "leaseSeconds/maximum", Int(APILimits.leaseSeconds.upperBound)),
            (claim + "max/minimum", Int(APILimits.claimMax.lowerBound)),
            (claim + "max/maximum", Int(APILimits.claimMax.upperBound)),
            (claim + "waitSeconds/maximum", Int(APILimits.waitSeconds.upperBound)),
            (claim + "steps/minItems", APILimits.claimStepKinds.lowerBound),
            (claim + "steps/maxItems", APILimits.claimStepKinds.upperBound),
            (claim + "worker/maxLength", Limits.maxWorkerBytes / 4),
            (heartbeat + "worker/maxLength", Limits.maxWorkerBytes / 4),
            (progress + "worker/maxLength", Limits.maxWorkerBytes / 4),
            (
                "paths/~1api~1v1~1workflow~1token~1{uuid}/get/parameters/1/schema/maximum",
                Int(APILimits.waitSeconds.upperBound)
            ),
            ("paths/~1api~1v1~1workflow/get/parameters/2/schema/minimum", APILimits.listLimit.lowerBound),
            ("paths/~1api~1v1~1workflow/get/parameters/2/schema/maximum", APILimits.listLimit.upperBound),
            (
                "paths/~1api~1v1~1workflow~1steps/post/requestBody/content/application~1json/schema/properties/updates/maxItems",
                APILimits.batchUpdates
            ),
            (
                "paths/~1api~1v1~1workflow~1token~1{uuid}~1steps/post/requestBody/content/application~1json/schema/properties/steps/maxItems",
                Limits.maxSteps
            ),
            ("components/schemas/CreateWorkflow/properties/steps/maxItems", Limits.maxSteps),
            ("components/schemas/CreateWorkflow/properties/labels/maxProperties", Limits.maxLabels),
            ("components/schemas/CreateWorkflow/properties/labels/propertyNames/maxLength", Limits.maxLabelBytes / 4),
            (
                "components/schemas/CreateWorkflow/properties/labels/additionalProperties/maxLength",
                Limits.maxLabelBytes / 4
            ),
            ("components/schemas/StepUpdate/oneOf/0/properties/worker/maxLength", Limits.maxWorkerBytes / 4),
            (
                "components/schemas/StepUpdate/oneOf/1/properties/failureReason/maxLength",
                Limits.maxFailureReasonBytes / 4
            ),
            (
                "components/schemas/BatchItem/oneOf/1/properties/failureReason/maxLength",
                Limits.maxFailureReasonBytes / 4
            ),
            (
                "paths/~1api~1v1~1workflow~1token~1{uuid}~1cancel/post/requestBody/content/application~1json/schema/properties/reason/maxLength",
                Limits.maxFailureReasonBytes / 4
            ),
        ]
        for (pointer, constant) in expected {
            #expect(value(pointer) == constant, "\(pointer)")
        }
    }

    @Test func servedWithoutAKey() throws {
        let api = try ServiceFixture(authenticated: true)
        let response = api.call(.get, "/api/openapi.json")
        #expect(response.status == .ok)
        #expect(response.text.hasPrefix("{"))
        #expect(!response.text.contains("${BOMFLOW_VERSION}"))
    }
}

struct MetricsTests {
    @Test func countsRequestsByRouteAndStatus() throws {
        let api = try ServiceFixture()
        _ = api.call(.get, "/api/v1/event/token/3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab")
        _ = api.call(.get, "/api/v1/event/token/nope")
        _ = api.call(.post, "/api/v1/workflow", #"{"template":"BOM_UPLOAD"}"#)
        let text = api.call(.get, "/metrics").text
        #expect(text.contains(#"bomflow_http_requests_total{route="GET /api/v1/event/token/{uuid}",status="200"} 1"#))
        #expect(text.contains(#"bomflow_http_requests_total{route="GET /api/v1/event/token/{uuid}",status="400"} 1"#))
        #expect(text.contains(#"bomflow_http_requests_total{route="POST /api/v1/workflow",status="201"} 1"#))
        #expect(text.contains("bomflow_workflows{state=\"processing\"} 1\n"))
        #expect(text.contains("bomflow_workflows{state=\"done\"} 0\n"))
        #expect(text.contains("bomflow_write_commits_total 1\n"))
        #expect(text.contains(#"bomflow_http_request_duration_seconds_bucket{le="+Inf"} 3"#))
        #expect(text.contains("# TYPE bomflow_lmdb_used_bytes gauge"))
        #expect(text.contains("bomflow_lmdb_write_lock_handovers_total 0\n"), "one writer alone never hands over")
    }

    /// Counts kept per thread add up on a scrape, per route and exact status, in route then
    /// status order; no route matched is `unmatched`, the operator page's routes are named like
    /// the API's; a status the table has no column for (outside 100...599) is still counted
    /// under its own code.
    @Test func countsOfEveryThreadAndStatusAddUp() throws {
        let api = try ServiceFixture()
        let poll = "/api/v1/event/token/3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab"
        let service = api.service
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<25 {
                let done = DispatchSemaphore(value: 0)
                service.handle(HTTPRequest(method: .get, target: poll)) { _ in done.signal() }
                done.wait()
            }
        }
        _ = api.call(.get, "/no/such/route")
        _ = api.call(.get, "/no/such/route")
        _ = api.call(.get, "/ui/assets/app.js")
        api.service.metrics.recordRequest(route: -1, status: 999, seconds: 3)
        api.service.metrics.recordRequest(route: -1, status: 99, seconds: 0.000_1)
        let text = api.call(.get, "/metrics").text
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("bomflow_http_requests_total{") }
        #expect(
            lines == [
                #"bomflow_http_requests_total{route="unmatched",status="99"} 1"#,
                #"bomflow_http_requests_total{route="unmatched",status="404"} 2"#,
                #"bomflow_http_requests_total{route="unmatched",status="999"} 1"#,
                #"bomflow_http_requests_total{route="GET /api/v1/event/token/{uuid}",status="200"} 200"#,
                #"bomflow_http_requests_total{route="GET /ui/assets/app.js",status="200"} 1"#,
            ])
        #expect(text.contains(#"bomflow_http_request_duration_seconds_bucket{le="+Inf"} 205"#))
        #expect(text.contains(#"bomflow_http_request_duration_seconds_bucket{le="2.5"} 204"#))
    }

    @Test func secondsOfADuration() {
        #expect(Metrics.seconds(.zero) == 0)
        #expect(Metrics.seconds(.milliseconds(1)) == 0.001)
        #expect(Metrics.seconds(.microseconds(1_500)) == 0.0015)
        // Beyond 64 bits of attoseconds (about 9.2 s) the 128-bit conversion takes over.
        #expect(Metrics.seconds(.seconds(10)) == 10)
        #expect(Metrics.seconds(.seconds(86_400) + .milliseconds(250)) == 86_400.25)
    }
}
