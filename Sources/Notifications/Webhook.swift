public import JSON
public import WorkflowModel

/// A webhook: where notifications of some groups are sent (docs/NOTIFICATIONS.md). Kept in the
/// store, so every process and every host delivers to the same set.
public struct Webhook: Sendable, Equatable {
    /// A header sent with every delivery (e.g. the receiver's own auth token).
    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public let id: Token
    /// `http://` or `https://`, without credentials.
    public var url: WebhookURL
    /// The groups it receives (at least one).
    public var groups: [NotificationGroup]
    /// Only workflows of this project (the `project` label of BOM uploads).
    public var project: Token?
    /// Only workflows carrying every one of these labels.
    public var labels: [Labels.Label]
    /// Signs each delivery with HMAC-SHA-256 (`X-Bomflow-Signature`).
    public var secret: String?
    /// Sent with each delivery.
    public var headers: [Header]
    /// A disabled webhook gets no new notifications (what is queued for it is still delivered).
    public var enabled: Bool
    /// The BOM itself (base64) in `subject.bom.content` of Dependency-Track's groups; else
    /// `(Omitted)`, as Dependency-Track 5 sends it.
    public var includeBom: Bool
    public var createdAt: Timestamp

    public init(
        id: Token, url: WebhookURL, groups: [NotificationGroup], project: Token? = nil, labels: [Labels.Label] = [],
        secret: String? = nil, headers: [Header] = [], enabled: Bool = true, includeBom: Bool = false,
        createdAt: Timestamp
    ) {
        self.id = id
        self.url = url
        self.groups = groups
        self.project = project
        self.labels = labels
        self.secret = secret
        self.headers = headers
        self.enabled = enabled
        self.includeBom = includeBom
        self.createdAt = createdAt
    }

    /// The limits a webhook's configuration is held to (hostile input is refused, not truncated).
    public enum Limits {
        public static let urlBytes = 2048
        public static let headers = 16
        public static let headerNameBytes = 64
        public static let headerValueBytes = 1024
        public static let secretBytes = 256
        public static let labels = 16
    }

    /// Headers bomflow writes itself; a webhook may not set them.
    public static let reservedHeaders: Set<String> = [
        "host", "content-length", "content-type", "transfer-encoding", "connection", "user-agent", "te", "upgrade",
        "expect", "x-bomflow-signature", "x-bomflow-notification-id", "x-bomflow-attempt",
    ]

    /// Checks everything but the URL (which ``WebhookURL/parse(_:)`` checked).
    public func validate() throws(WebhookError) {
        guard !groups.isEmpty else { throw .invalid("groups", "name at least one group") }
        guard Set(groups).count == groups.count else { throw .invalid("groups", "a group is named twice") }
        if let secret {
            guard !secret.isEmpty, secret.utf8.count <= Limits.secretBytes else {
                throw .invalid("secret", "the secret is 1 to \(Limits.secretBytes) bytes")
            }
        }
        guard headers.count <= Limits.headers else {
            throw .invalid("headers", "at most \(Limits.headers) headers")
        }
        var seen: Set<String> = []
        for header in headers {
            let lower = header.name.lowercased()
            guard !header.name.isEmpty, header.name.utf8.count <= Limits.headerNameBytes,
                header.name.utf8.allSatisfy(Self.isTokenByte)
            else {
                throw .invalid(
                    "headers", "'\(header.name.prefix(80))' is not a header name of 1 to 64 token characters")
            }
            guard !Self.reservedHeaders.contains(lower) else {
                throw .invalid("headers", "\(header.name) is set by bomflow itself")
            }
            guard seen.insert(lower).inserted else { throw .invalid("headers", "\(header.name) is named twice") }
            guard header.value.utf8.count <= Limits.headerValueBytes,
                header.value.utf8.allSatisfy({ $0 == 0x09 || (0x20...0x7E).contains($0) || $0 >= 0x80 })
            else {
                throw .invalid(
                    "headers",
                    "the value of \(header.name) is over \(Limits.headerValueBytes) bytes or has control characters")
            }
        }
        guard labels.count <= Limits.labels else { throw .invalid("labels", "at most \(Limits.labels) labels") }
    }

    /// RFC 9110's `tchar`.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default: Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// Whether a notification of `group` about `workflow` is for this webhook.
    public func wants(_ group: NotificationGroup, about workflow: Workflow) -> Bool {
        guard enabled, groups.contains(group) else { return false }
        if let project, workflow.labels["project"] != project.description { return false }
        return labels.allSatisfy { workflow.labels[$0.key] == $0.value }
    }
}

/// A refused webhook configuration: the member and why.
public enum WebhookError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(String, String)

    public var description: String {
        switch self {
        case .invalid(let member, let reason): "\(member): \(reason)"
        }
    }
}

/// A webhook's address: `http(s)://host[:port]/path?query`, no user info, no fragment.
public struct WebhookURL: Sendable, Equatable, CustomStringConvertible {
    public let isTLS: Bool
    /// A name, an IPv4 literal, or an IPv6 literal without brackets.
    public let host: String
    public let port: Int
    /// The request target: path and query, at least `/`.
    public let target: String

    /// The URL as given back (normalised: explicit port only when not the scheme's default).
    public var description: String {
        let defaultPort = isTLS ? 443 : 80
        let authority = host.contains(":") ? "[\(host)]" : host
        return (isTLS ? "https://" : "http://") + authority + (port == defaultPort ? "" : ":\(port)") + target
    }

    /// The `Host` header's value.
    public var authority: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (isTLS ? 443 : 80) ? name : "\(name):\(port)"
    }

    /// Parses and checks a URL; the error says what is wrong.
    public static func parse(_ text: String) throws(WebhookError) -> WebhookURL {
        guard text.utf8.count <= Webhook.Limits.urlBytes else {
            throw .invalid("url", "the URL is longer than \(Webhook.Limits.urlBytes) bytes")
        }
        guard text.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw .invalid("url", "the URL has spaces, control or non-ASCII characters (percent-encode them)")
        }
        let lower = text.lowercased()
        let isTLS: Bool
        let rest: Substring
        if lower.hasPrefix("https://") {
            isTLS = true
            rest = text.dropFirst(8)
        } else if lower.hasPrefix("http://") {
            isTLS = false
            rest = text.dropFirst(7)
        } else {
            throw .invalid("url", "only http:// and https:// URLs are delivered to")
        }
        guard !rest.contains("#") else { throw .invalid("url", "a webhook URL has no fragment") }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...])
        if target.isEmpty || target.hasPrefix("?") { target = "/" + target }
        guard !authority.contains("@") else {
            throw .invalid("url", "credentials in the URL are refused; send them in a header (headers)")
        }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .invalid("url", "an unclosed IPv6 literal") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalid("url", "text after the IPv6 literal") }
                portText = after.dropFirst()
            }
            guard host.contains(":"), host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw .invalid("url", "'\(host)' is not an IPv6 literal")
            }
        } else {
            if let colon = authority.lastIndex(of: ":") {
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            } else {
                host = authority
            }
            guard
                host.utf8.allSatisfy({ byte in
                    byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                        || Webhook.isTokenByte(byte)
                            && byte != UInt8(ascii: "%")
                })
            else { throw .invalid("url", "'\(host)' is not a host name") }
        }
        guard !host.isEmpty, host.utf8.count <= 253 else { throw .invalid("url", "the URL names no host") }
        var port = isTLS ? 443 : 80
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number), portText.count <= 5 else {
                throw .invalid("url", "the port is 1 to 65535")
            }
            port = number
        }
        return WebhookURL(isTLS: isTLS, host: host.lowercased(), port: port, target: target)
    }

    /// True when the host is this machine: `localhost`, `127.0.0.0/8`, `::1`, or `0.0.0.0`/`::`.
    public var isLoopback: Bool {
        host == "localhost" || host.hasSuffix(".localhost") || host.hasPrefix("127.") || host == "::1"
            || host == "0.0.0.0" || host == "::" || host == "0:0:0:0:0:0:0:1"
    }
}

// MARK: JSON (the API's shape and the stored form)

extension Webhook {
    /// Writes the webhook as the API shows it; the secret only as whether there is one, unless
    /// `includingSecret` (the stored form).
    public func write(to json: inout JSONWriter, includingSecret: Bool = false) {
        json.beginObject()
        json.member("uuid", id.description)
        json.member("url", url.description)
        json.key("groups")
        json.beginArray()
        for group in groups { json.string(group.rawValue) }
        json.endArray()
        if let project { json.member("project", project.description) }
        json.key("labels")
        json.beginObject()
        for label in labels { json.member(label.key, label.value) }
        json.endObject()
        if includingSecret {
            if let secret { json.member("secret", secret) }
        } else {
            json.member("signed", secret != nil)
        }
        json.key("headers")
        json.beginObject()
        for header in headers { json.member(header.name, header.value) }
        json.endObject()
        json.member("enabled", enabled)
        json.member("includeBom", includeBom)
        json.member("createdAt", createdAt.milliseconds)
        json.endObject()
    }

    /// The stored form: the API's shape with the secret.
    public var stored: [UInt8] {
        var json = JSONWriter()
        write(to: &json, includingSecret: true)
        return json.bytes
    }

    /// Reads ``stored`` back (nil when the bytes are not a stored webhook).
    public init?(stored bytes: some Collection<UInt8>) {
        guard let value = try? JSONValue.parse(Array(bytes)), let reader = try? JSONObjectReader(value),
            let draft = try? WebhookDraft.decode(reader), let idText = try? reader.string("uuid"),
            let id = Token(idText), let created = try? reader.integer("createdAt"),
            let webhook = try? draft.webhook(id: id, createdAt: Timestamp(milliseconds: created))
        else { return nil }
        self = webhook
    }
}

/// A webhook as a request describes it (create: everything given; update: what is given replaces).
public struct WebhookDraft: Sendable, Equatable {
    public var url: String?
    public var groups: [NotificationGroup]?
    public var project: Token??
    public var labels: [Labels.Label]?
    public var secret: String??
    public var headers: [Webhook.Header]?
    public var enabled: Bool?
    public var includeBom: Bool?

    public init() {}

    /// The members a request may carry (``decode(_:)`` refuses others).
    public static let members: Set<String> = [
        "url", "groups", "project", "labels", "secret", "headers", "enabled", "includeBom",
        // the stored form and what GET answers may be sent back unchanged
        "uuid", "createdAt", "signed",
    ]

    /// Reads a request body (or the stored form).
    public static func decode(_ body: JSONObjectReader) throws -> WebhookDraft {
        try body.allowOnly(members)
        var draft = WebhookDraft()
        draft.url = try body.string("url")
        if let groups = try body.array("groups") {
            draft.groups = try groups.enumerated().map { index, value throws(JSONError) in
                guard case .string(let name) = value, let group = NotificationGroup(rawValue: name) else {
                    throw JSONError.invalid(
                        "groups[\(index)]",
                        "groups[\(index)] is not a notification group; one of "
                            + NotificationGroup.allCases.map(\.rawValue).joined(separator: ", "))
                }
                return group
            }
        }
        if body.value("project") == .null {
            draft.project = .some(nil)
        } else if let text = try body.string("project") {
            guard let uuid = Token(text) else { throw JSONError.invalid("project", "'\(text)' is not a UUID") }
            draft.project = uuid
        }
        if let labels = try body.stringMap("labels") {
            draft.labels = labels.sorted { $0.key < $1.key }.map { Labels.Label(key: $0.key, value: $0.value) }
        }
        if body.value("secret") == .null {
            draft.secret = .some(nil)
        } else if let secret = try body.string("secret") {
            draft.secret = secret
        }
        if case .object(let members)? = body.value("headers") {
            draft.headers = try members.sorted { $0.key < $1.key }.map { name, value throws(JSONError) in
                guard case .string(let text) = value else { throw JSONError.invalid("headers.\(name)", "a string") }
                return Webhook.Header(name: name, value: text)
            }
        } else if let value = body.value("headers"), value != .null {
            throw JSONError.invalid("headers", "an object of header names and values")
        }
        draft.enabled = try body.bool("enabled")
        draft.includeBom = try body.bool("includeBom")
        return draft
    }

    /// A new webhook from this draft (`url` and `groups` required).
    public func webhook(id: Token, createdAt: Timestamp) throws(WebhookError) -> Webhook {
        guard let url else { throw .invalid("url", "a webhook needs a url") }
        guard let groups else { throw .invalid("groups", "a webhook needs its groups") }
        let webhook = Webhook(
            id: id, url: try WebhookURL.parse(url), groups: groups, project: project ?? nil, labels: labels ?? [],
            secret: secret ?? nil, headers: headers ?? [], enabled: enabled ?? true, includeBom: includeBom ?? false,
            createdAt: createdAt)
        try webhook.validate()
        return webhook
    }

    /// `existing` with what this draft gives replaced.
    public func applied(to existing: Webhook) throws(WebhookError) -> Webhook {
        var webhook = existing
        if let url { webhook.url = try WebhookURL.parse(url) }
        if let groups { webhook.groups = groups }
        if let project { webhook.project = project }
        if let labels { webhook.labels = labels }
        if let secret { webhook.secret = secret }
        if let headers { webhook.headers = headers }
        if let enabled { webhook.enabled = enabled }
        if let includeBom { webhook.includeBom = includeBom }
        try webhook.validate()
        return webhook
    }
}
