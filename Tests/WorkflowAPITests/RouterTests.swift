import HTTP1
import TestSupport
import Testing
import WorkflowModel

@testable import WorkflowAPI

/// The router's tree against the plain rule it implements, on the API's own routes: compare the
/// path with every route of its length (a literal segment equal as bytes or once percent-decoded),
/// keep the routes with the most literal segments, take the first with the request's method, else
/// 405 with their methods, else 404.
struct RouterTests {
    let router = WorkflowService.router

    enum Outcome: Equatable, CustomStringConvertible {
        case route(Int, [String])
        case methodNotAllowed(String)
        case notFound
        case badRequest

        var description: String {
            switch self {
            case .route(let index, let parameters): "route \(index) \(parameters)"
            case .methodNotAllowed(let allow): "405 Allow: \(allow)"
            case .notFound: "404"
            case .badRequest: "400"
            }
        }
    }

    func actual(_ method: HTTPMethod, _ path: String) -> Outcome {
        switch router.resolve(HTTPRequest(method: method, target: path)) {
        case .success(let resolution):
            let route = resolution.route
            return .route(route.index, route.parameterNames.map { resolution.parameters[$0] ?? "?" })
        case .failure(let problem):
            switch problem.status {
            case .methodNotAllowed: return .methodNotAllowed(problem.headers.first { $0.0 == "Allow" }?.1 ?? "")
            case .notFound: return .notFound
            default: return .badRequest
            }
        }
    }

    func expected(_ method: HTTPMethod, _ path: String) -> Outcome {
        let wanted = method == .head ? HTTPMethod.get : method
        let segments = path.split(separator: "/").map(String.init)
        var matches: [(route: Int, literals: Int)] = []
        for route in router.routes where route.segments.count == segments.count {
            var literals = 0
            var matched = true
            for (segment, pattern) in zip(segments, route.segments) {
                guard case .literal(let bytes) = pattern else { continue }
                literals += 1
                if Array(segment.utf8) != bytes
                    && PercentDecoding.decode(Substring(segment)).map({ Array($0.utf8) }) != bytes
                {
                    matched = false
                    break
                }
            }
            if matched { matches.append((route.index, literals)) }
        }
        guard let most = matches.map(\.literals).max() else { return .notFound }
        let best = matches.filter { $0.literals == most }.map(\.route)
        guard let chosen = best.first(where: { router.routes[$0].method == wanted }) else {
            var allowed = best.map { router.routes[$0].method }
            if allowed.contains(.get) { allowed.append(.head) }
            return .methodNotAllowed(allowed.map(\.rawValue).joined(separator: ", "))
        }
        var parameters: [String] = []
        for (segment, pattern) in zip(segments, router.routes[chosen].segments) {
            guard case .parameter = pattern else { continue }
            guard let decoded = PercentDecoding.decode(Substring(segment)) else { return .badRequest }
            parameters.append(decoded)
        }
        return .route(chosen, parameters)
    }

    /// Paths made from the routes' own patterns: parameters filled with words that are also
    /// literals elsewhere, with escapes, or plain; now and then a literal percent-encoded, a
    /// segment dropped or added, or the method changed.
    @Test func theTreeAgreesWithThePlainRule() {
        var generator = SeededGenerator(seed: 15)
        let words = ["lookup", "token", "status", "workflow", "ready", "api", "v1", "a%2Fb", "%E2%9C%93", "%zz", "x"]
        let methods: [HTTPMethod] = [.get, .head, .post, .put, .patch, .delete, .options]
        for route in router.routes {
            for _ in 0..<40 {
                var segments: [String] = route.segments.map { segment in
                    switch segment {
                    case .literal(let bytes):
                        var text = String(decoding: bytes, as: UTF8.self)
                        // A near miss: one byte changed (before, at or after the eighth, which
                        // the tree compares as one word), the last byte dropped or one added.
                        switch generator.next() % 12 {
                        case 0:
                            var changed = bytes
                            changed[Int(generator.next() % UInt64(changed.count))] = UInt8(ascii: "q")
                            text = String(decoding: changed, as: UTF8.self)
                        case 1: text = String(text.dropLast())
                        case 2: text += "s"
                        default: break
                        }
                        if generator.next() % 5 == 0, let first = text.utf8.first {
                            text =
                                "%" + String(first, radix: 16, uppercase: generator.next() % 2 == 0)
                                + String(text.dropFirst())
                        }
                        return text
                    case .parameter:
                        return generator.next() % 2 == 0
                            ? words[Int(generator.next() % UInt64(words.count))]
                            : "00000001-0000-4000-8000-\(generator.next() % 1000)"
                    }
                }
                switch generator.next() % 10 {
                case 0: segments.removeLast()
                case 1: segments.append(words[Int(generator.next() % UInt64(words.count))])
                default: break
                }
                let path = "/" + segments.joined(separator: "/")
                let method =
                    generator.next() % 3 == 0 ? methods[Int(generator.next() % UInt64(methods.count))] : route.method
                #expect(actual(method, path) == expected(method, path), "\(method.rawValue) \(path)")
            }
        }
        for path in [
            "/", "//", "/api", "/api/v1/event/token/", "/api//v1///event/token/x", "/%61pi/v1/event/token/x",
            "/api/v1/event/token//x", "/api/v1/event/token/x/", "/api/v1/event/token/x//", "/api/v1/project//lookup",
        ] {
            #expect(actual(.get, path) == expected(.get, path), "\(path)")
        }
    }

    @Test(arguments: [
        "3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab", "3D0D3C5E-7D4B-4A5E-9C1F-0123456789AB",
        "3d0d3c5e%2D7d4b-4a5e-9c1f-0123456789ab", "%33d0d3c5e-7d4b-4a5e-9c1f-0123456789ab",
        "3d0d3c5e-7d4b-4a5e-9c1f-0123456789a", "3d0d3c5e-7d4b-4a5e-9c1f-0123456789ag", "x", "%41",
    ])
    func aTokenParameterParsesAsItsDecodedText(segment: String) throws {
        // The poll parses `{uuid}` from the path's bytes; an escaped one from its decoded text.
        // Both must agree with parsing the decoded parameter.
        guard
            case .success(let resolution) = router.resolve(
                HTTPRequest(method: .get, target: "/api/v1/event/token/" + segment))
        else { return #expect(Bool(false), "no route") }
        let parameters = resolution.parameters
        let text = try #require(parameters["uuid"])
        #expect(text == PercentDecoding.decode(Substring(segment)))
        #expect(parameters.token("uuid") == Token(text))
        #expect(parameters.token("step") == nil, "no such parameter")
    }

    @Test func methodsCompareByToken() {
        #expect(HTTPMethod("GET") == .get)
        #expect(HTTPMethod("get") != .get, "methods are case-sensitive")
        #expect(HTTPMethod("BREW") == HTTPMethod("BREW"))
        #expect(HTTPMethod("BREW") != HTTPMethod("BREWS"))
        #expect(HTTPMethod("BREW") != .get)
        #expect(Set([HTTPMethod("GET"), .get, HTTPMethod("BREW"), HTTPMethod("BREW")]).count == 2)
        #expect(HTTPMethod.known.contains(HTTPMethod("QUERY")))
        #expect(!HTTPMethod.known.contains(HTTPMethod("CONNECT")))
    }
}
