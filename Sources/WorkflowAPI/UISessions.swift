internal import Codecs
internal import HTTP1
internal import Storage
internal import WebUI

/// Sign-in sessions of the operator page (docs/UI.md). A session is a short-lived key of its own,
/// stored like an API key (SHA-256 digest only) under the name
/// `ui-session:<key name>:<expires ms>:<random>`, so that every process and host of the store
/// knows it, a sign-out (deleting it) ends it everywhere, and no new storage is needed. The
/// browser holds the session's secret in an HttpOnly, SameSite=Strict cookie; the REST API
/// refuses session keys. A session acts with its key's permissions *now*: revoking the key ends
/// its sessions.
enum UISessions {
    static let cookie = "bomflow_session"
    /// The cookie of the sign-in form's CSRF token (and of every form without keys).
    static let csrfCookie = "bomflow_csrf"
    static let namePrefix = "ui-session:"
    /// How long a session lasts: 8 hours.
    static let lifetime: Int64 = 8 * 3_600_000

    /// A signed-in viewer, or nil.
    struct Session {
        /// The session's own (stored) name, for the sign-out.
        var storedName: String
        var keyName: String
        var permissions: Permission
        /// The session's secret (from the cookie): the CSRF token is derived from it.
        var secret: String

        /// The CSRF token of this session's forms: HMAC-SHA-256 of a constant under the session's
        /// secret, which only the server and the browser's HttpOnly cookie know.
        var csrf: String { Hex.encode(HMAC.sha256(key: Array(secret.utf8), message: Array("bomflow-ui-csrf".utf8))) }
    }

    /// The name a new session of `key` is stored under.
    static func storedName(key: String, expires: Int64) -> String {
        var random = SystemRandomNumberGenerator()
        return "\(namePrefix)\(key):\(expires):\(String(random.next() as UInt64, radix: 16))"
    }

    /// The key name and expiry a session name carries, or nil when it is not a session's.
    static func parse(_ storedName: String) -> (key: String, expires: Int64)? {
        guard storedName.hasPrefix(namePrefix) else { return nil }
        let rest = storedName.dropFirst(namePrefix.count)
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3, let expires = Int64(parts[parts.count - 2]) else { return nil }
        return (parts[0..<(parts.count - 2)].joined(separator: ":"), expires)
    }

    /// The value of cookie `name` in the request (the first one).
    static func cookie(_ name: String, in request: HTTPRequest) -> String? {
        for header in request.headers.values("Cookie") {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, parts[0].trimmingSpaces == name else { continue }
                return String(parts[1].trimmingSpaces)
            }
        }
        return nil
    }

    /// `Set-Cookie` for `name` (Path=/ui, HttpOnly, SameSite=Strict; Secure when configured);
    /// `maxAge` 0 deletes it.
    static func setCookie(_ name: String, _ value: String, maxAge: Int64, secure: Bool) -> (String, String) {
        (
            "Set-Cookie",
            "\(name)=\(value); Path=/ui; Max-Age=\(maxAge); HttpOnly; SameSite=Strict\(secure ? "; Secure" : "")"
        )
    }

    /// A random token: 32 bytes as hex.
    static func randomToken() -> String {
        var random = SystemRandomNumberGenerator()
        return Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &random) })
    }

    /// Compares two tokens in time independent of where they differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count, !x.isEmpty else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return text
    }
}
