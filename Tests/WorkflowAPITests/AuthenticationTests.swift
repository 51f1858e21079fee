import Codecs
import Foundation
import HTTP1
import LMDBStore
import Storage
import TestSupport
import Testing

@testable import WorkflowAPI

struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        (String(repeating: "a", count: 1000), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"),
    ])
    func vectors(input: String, hex: String) {
        let digest = SHA256.hash(Array(input.utf8))
        #expect(
            digest.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
                .joined() == hex)
    }
}

struct AuthenticationTests {
    let token = "3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab"

    func key(_ api: ServiceFixture, _ name: String, _ permission: Permission) throws -> String {
        let key = Authenticator.generateKey()
        #expect(
            try api.store.addAPIKey(digest: Authenticator.digest(of: key), name: name, permissions: permission.rawValue)
        )
        return key
    }

    @Test func everyProtectedRouteNeedsAKey() throws {
        let api = try ServiceFixture(authenticated: true)
        for (method, path) in [
            (HTTPMethod.get, "/api/v1/event/token/\(token)"), (.post, "/api/v1/workflow"),
            (.delete, "/api/v1/workflow/token/\(token)"),
        ] {
            let response = api.call(method, path, "{}")
            #expect(response.status == .unauthorized, "\(method) \(path)")
            #expect(response.headers["WWW-Authenticate"] == #"Bearer realm="bomflow""#)
        }
        #expect(api.call(.get, "/api/version").status == .ok, "version needs no key, as in Dependency-Track")
        #expect(api.call(.get, "/health").status == .ok)
        #expect(
            api.call(.get, "/api/v1/event/token/\(token)", headers: [("X-Api-Key", "bomflow_wrong")]).status
                == .unauthorized)
    }

    @Test func permissionsAreEnforced() throws {
        let api = try ServiceFixture(authenticated: true)
        let reader = try key(api, "reader", .read)
        let writer = try key(api, "ci", [.read, .write])
        let admin = try key(api, "root", .admin)
        let create = #"{"token":"\#(token)","template":"PROJECT_CLONE"}"#
        #expect(api.call(.post, "/api/v1/workflow", create, headers: [("X-Api-Key", reader)]).status == .forbidden)
        let created = api.call(.post, "/api/v1/workflow", create, headers: [("X-API-Key", writer)])
        #expect(created.status == .created)
        #expect(created.text.contains(#""createdBy":"ci""#), "the creator is the key's name")
        #expect(
            api.call(.get, "/api/v1/event/token/\(token)", headers: [("Authorization", "Bearer \(reader)")]).text
                == #"{"processing":true,"status":"PENDING"}"#)
        #expect(
            api.call(.delete, "/api/v1/workflow/token/\(token)", headers: [("X-Api-Key", writer)]).status == .forbidden)
        #expect(
            api.call(.delete, "/api/v1/workflow/token/\(token)", headers: [("X-Api-Key", admin)]).status == .noContent)
        #expect(
            !created.text.contains(writer)
                && !api.call(.get, "/api/v1/workflow", headers: [("X-Api-Key", reader)]).text.contains(reader))
    }

    @Test func anonymousBodiesAreRefusedBeforeTheyAreRead() throws {
        let api = try ServiceFixture(authenticated: true)
        let head = HTTPRequest(
            method: .post, target: "/api/v1/workflow", headers: HTTPHeaders([("Content-Length", "1048576")]))
        #expect(api.service.respondBeforeBody(to: head)?.status == .unauthorized)
        let reader = try key(api, "reader", .read)
        let readerHead = HTTPRequest(
            method: .post, target: "/api/v1/workflow", headers: HTTPHeaders([("X-Api-Key", reader)]))
        if api.store.callsMayBlock {
            // A remote store is never asked on an event loop: a key the cache does not know yet
            // is judged with the body, on a worker thread; once known, before the body.
            #expect(api.service.respondBeforeBody(to: readerHead) == nil)
            #expect(api.call(.post, "/api/v1/workflow", "{}", headers: [("X-Api-Key", reader)]).status == .forbidden)
        }
        #expect(api.service.respondBeforeBody(to: readerHead)?.status == .forbidden)
    }

    /// Dependency-Track's two ways of presenting a key, each any number of times, as long as
    /// all name one key.
    @Test(
        arguments: [
            ([("X-Api-Key", "k")], "k"),
            ([("x-api-key", "k"), ("X-API-KEY", "k")], "k"),
            ([("X-Api-Key", "k"), ("X-Api-Key", "j")], nil),
            ([("X-Api-Key", "k"), ("Authorization", "Bearer k")], "k"),
            ([("Authorization", "bEaReR k"), ("X-Api-Key", "kk")], nil),
            ([("Authorization", "Bearer")], nil),
            ([("Authorization", "Bearer ")], nil),
            ([("Authorization", "Bearer  k")], nil),
            ([("Authorization", "Bearer k j")], nil),
            ([("Authorization", "Basic k")], nil),
            ([("Authorization", "Basic k"), ("X-Api-Key", "k")], "k"),
            ([("X-Api-Key", "")], ""),
            ([("Host", "h")], nil),
        ] as [([(String, String)], String?)])
    func thePresentedKey(fields: [(String, String)], key: String?) {
        let headers = HTTPHeaders(fields)
        let found = Authenticator.presentedKey(headers).map { range in
            headers.withBytes { HTTPHeaders.string($0.extracting(range)) }
        }
        #expect(found == key)
        #expect(Authenticator.presentsKey(headers) == fields.contains { $0.0 != "Host" })
    }

    /// The cache's fast path compares the presented bytes with the thread's last key: a key that
    /// differs from it in one byte, or extends it, is a different key.
    @Test func theLastKeyMatchesOnlyItself() throws {
        let api = try ServiceFixture(authenticated: true)
        let good = try key(api, "reader", .read)
        let path = "/api/v1/event/token/\(token)"
        var changed = Array(good.utf8)
        changed[changed.count - 1] = changed.last == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        let variants = [String(decoding: changed, as: UTF8.self), good + "0", String(good.dropLast()), ""]
        for variant in variants {
            #expect(api.call(.get, path, headers: [("X-Api-Key", good)]).status == .ok, "the good key first")
            #expect(api.call(.get, path, headers: [("X-Api-Key", variant)]).status == .unauthorized, "\(variant)")
        }
        #expect(api.call(.get, path, headers: [("X-Api-Key", good)]).status == .ok)
    }

    @Test func keysAreUniqueByNameAndRevocable() throws {
        let api = try ServiceFixture()
        let first = Authenticator.generateKey()
        #expect(try api.store.addAPIKey(digest: Authenticator.digest(of: first), name: "ci", permissions: 3))
        #expect(
            try !api.store.addAPIKey(
                digest: Authenticator.digest(of: Authenticator.generateKey()), name: "ci", permissions: 3))
        #expect(try api.store.apiKeys().map(\.name) == ["ci"])
        #expect(try api.store.revokeAPIKey(name: "ci"))
        #expect(try api.store.apiKey(digest: Authenticator.digest(of: first)) == nil)
        #expect(try !api.store.revokeAPIKey(name: "ci"))
    }
}

extension AuthenticationTests {
    /// A4: more than 20 different invalid keys from one address in a minute → 429 with
    /// Retry-After, also for a valid key from that address; other addresses are unaffected.
    @Test func repeatedFailuresFromOneAddressAreThrottled() throws {
        let api = try ServiceFixture(authenticated: true)
        let good = try key(api, "ci", .read)
        func poll(_ key: String, from address: String) -> HTTPResponse {
            var request = HTTPRequest(
                method: .get, target: "/api/v1/event/token/\(token)", headers: HTTPHeaders([("X-Api-Key", key)]))
            request.remoteAddress = address
            let box = ResponseBox()
            let done = DispatchSemaphore(value: 0)
            api.service.handle(request) { response in
                box.response = response
                done.signal()
            }
            _ = done.wait(timeout: .now() + 10)
            return box.response ?? HTTPResponse(status: .internalServerError)
        }
        for attempt in 1...21 {
            #expect(poll("bomflow_guess\(attempt)", from: "10.0.0.1").status == .unauthorized)
        }
        let blocked = poll("bomflow_guess22", from: "10.0.0.1")
        #expect(blocked.status == .tooManyRequests)
        #expect(Int(blocked.headers["Retry-After"] ?? "") ?? 0 > 0)
        #expect(
            poll(good, from: "10.0.0.1").status == .tooManyRequests,
            "throttled addresses are refused even with a valid key")
        #expect(poll(good, from: "10.0.0.2").status == .ok, "other addresses are unaffected")
        // One stale key retried many times is a misconfiguration, not a guess: 401, no lockout.
        for _ in 0..<50 { #expect(poll("bomflow_stale", from: "10.0.0.3").status == .unauthorized) }
        #expect(poll(good, from: "10.0.0.3").status == .ok)
    }
}

/// RELIABILITY.md A2: a missing, a malformed and a wrong key get the same 401, byte for byte.
struct UniformRefusalTests {
    @Test func missingMalformedAndWrongKeysGetOneAnswer() throws {
        let api = try ServiceFixture(authenticated: true)
        let path = "/api/v1/event/token/3d0d3c5e-7d4b-4a5e-9c1f-0123456789ab"
        let answers = [
            api.call(.get, path, headers: [("X-Request-Id", "same")]),
            api.call(.get, path, headers: [("X-Request-Id", "same"), ("Authorization", "Basic abc")]),
            api.call(.get, path, headers: [("X-Request-Id", "same"), ("X-Api-Key", "")]),
            api.call(.get, path, headers: [("X-Request-Id", "same"), ("X-Api-Key", "a"), ("X-Api-Key", "b")]),
            api.call(.get, path, headers: [("X-Request-Id", "same"), ("X-Api-Key", "bomflow_wrong")]),
            api.call(.get, path, headers: [("X-Request-Id", "same"), ("Authorization", "Bearer bomflow_wrong")]),
        ]
        for answer in answers {
            #expect(answer.status == .unauthorized)
            #expect(answer.body == answers[0].body, "\(answer.text)")
            #expect(answer.headers["WWW-Authenticate"] == answers[0].headers["WWW-Authenticate"])
        }
    }
}
