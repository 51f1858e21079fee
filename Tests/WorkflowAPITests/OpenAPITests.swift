import Foundation
import HTTP1
import Testing

@testable import WorkflowAPI

struct OpenAPITests {
    /// The document describes exactly the routes the router serves.
    @Test func documentPathsAreTheRoutes() throws {
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.bytes)) as? [String: Any])
        #expect(object["openapi"] as? String == "3.1.0")
        let paths = try #require(object["paths"] as? [String: [String: Any]])
        var documented: Set<String> = []
        for (path, operations) in paths {
            for method in operations.keys { documented.insert("\(method.uppercased()) \(path)") }
        }
        #expect(documented == Set(WorkflowService.routeSignatures))
    }

    @Test func servedWithoutAKey() throws {
        let api = try ServiceFixture(authenticated: true)
        let response = api.call(.get, "/api/openapi.json")
        #expect(response.status == .ok)
        #expect(response.text.hasPrefix("{"))
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
    }
}
