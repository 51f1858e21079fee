import Foundation
import HTTP1
import Testing

/// `priority` on create (0–100, default 50), shown by get and list, used by claims; on the test
/// run's backend.
struct PriorityAPITests {
    @Test func priorityIsValidatedShownAndUsedByClaims() throws {
        let api = try ServiceFixture()
        for body in [
            #"{"steps":[{"step":"W"}],"priority":101}"#, #"{"steps":[{"step":"W"}],"priority":-1}"#,
            #"{"steps":[{"step":"W"}],"priority":"high"}"#, #"{"steps":[{"step":"W"}],"priority":1.5}"#,
        ] {
            let refused = api.call(.post, "/api/v1/workflow", body)
            #expect(refused.status == .badRequest, "\(body): \(refused.text)")
            #expect(refused.text.contains("priority"), "\(refused.text)")
        }
        #expect(api.call(.get, "/api/v1/workflow").text.hasPrefix(#"{"workflows":[]"#), "nothing was created")
        let low = "00000000-0000-4000-8000-00000000000a"
        let high = "00000000-0000-4000-8000-00000000000b"
        let plain = "00000000-0000-4000-8000-00000000000c"
        #expect(
            api.call(.post, "/api/v1/workflow", #"{"token":"\#(low)","steps":[{"step":"W"}],"priority":5}"#).status
                == .created)
        #expect(
            api.call(.post, "/api/v1/workflow", #"{"token":"\#(high)","steps":[{"step":"W"}],"priority":95}"#).status
                == .created)
        #expect(
            api.call(.post, "/api/v1/workflow", #"{"token":"\#(plain)","steps":[{"step":"W"}]}"#).status == .created)
        #expect(api.call(.get, "/api/v1/workflow/token/\(high)").text.contains(#""priority":95"#))
        #expect(api.call(.get, "/api/v1/workflow/token/\(plain)").text.contains(#""priority":50"#))
        #expect(api.call(.get, "/api/v1/workflow").text.contains(#""priority":5"#))
        let conflict = api.call(.post, "/api/v1/workflow", #"{"token":"\#(low)","steps":[{"step":"W"}],"priority":6}"#)
        #expect(conflict.status == .conflict, "another priority is another definition")
        var order: [String] = []
        for _ in 0..<3 {
            let claimed = api.call(.post, "/api/v1/workflow/claim", #"{"steps":["W"],"worker":"w","leaseSeconds":60}"#)
            let claims = (api.json(claimed) as? [String: Any])?["claims"] as? [[String: Any]] ?? []
            order += claims.compactMap { $0["token"] as? String }
        }
        #expect(order == [high, plain, low])
    }
}
