internal import Codecs
internal import HTTP1
internal import Sockets
public import Storage
internal import Synchronization

/// What an API key may do. `admin` implies the others.
public struct Permission: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The GET endpoints.
    public static let read = Permission(rawValue: 1)
    /// Create, update, progress, batch, restart.
    public static let write = Permission(rawValue: 2)
    /// Delete and maintenance.
    public static let admin = Permission(rawValue: 4)

    /// Whether a key with these permissions may use an endpoint needing `needed` (ADMIN may all).
    public func allows(_ needed: Permission) -> Bool { contains(.admin) || contains(needed) }

    /// `READ`, `WRITE` or `ADMIN` (the OpenAPI document's `x-bomflow-permission`).
    public var name: String { self == .admin ? "ADMIN" : self == .write ? "WRITE" : "READ" }
}

/// Checks API keys as Dependency-Track does: `X-Api-Key: <key>` (any case) or
/// `Authorization: Bearer <key>`. Keys are stored only as SHA-256 digests; a key is never logged
/// or echoed. Lookups are cached for 5 s, so a revoked key stops working within 5 s.
///
/// A client address that presents more than ``failureLimit`` *different* invalid keys within
/// ``failureWindow`` gets 429 with `Retry-After` for every request until the window has passed
/// (brute force; RELIABILITY.md A4). The same wrong key repeated (a CI job with a stale key
/// retrying) keeps getting 401 and locks nobody else behind that address out.
public final class Authenticator: Sendable {
    let store: any WorkflowStorage
    /// Kept per thread: each event loop reads its own copy, so a cached poll shares no lock; a
    /// lookup fills every copy.
    private let cache = PerThread(KeyCache())
    private static let cacheLifetime: Duration = .seconds(5)
    private let failures = Mutex<[String: FailureWindow]>([:])
    /// Whether `failures` may hold anything: while nothing failed, no request takes its lock.
    private let anyFailures = Atomic<Bool>(false)
    /// Invalid keys tolerated per client address and window. 20.
    public static let failureLimit = 20
    /// The window in which invalid keys are counted. 60 s.
    public static let failureWindow: Duration = .seconds(60)

    private struct FailureWindow {
        var started: ContinuousClock.Instant
        /// Hashes of the distinct invalid keys seen (at most ``failureLimit`` + 1 kept).
        var keys: Set<Int>
    }

    /// A class: a cache hit hands out one reference (one retain) instead of copying the record's
    /// strings.
    private final class CachedKey: Sendable {
        let record: APIKeyRecord?
        /// Since ``origin``. A `Duration`, not a `ContinuousClock.Instant`: the instant's layout is
        /// resilient (another library's), which made every copy of a cached entry on the request
        /// path go through runtime metadata and value witnesses.
        let expires: Duration

        init(record: APIKeyRecord?, expires: Duration) {
            self.record = record
            self.expires = expires
        }
    }

    /// The instant the cache's expiry times count from.
    private let origin = ContinuousClock.now

    /// One thread's cached lookups, and the last one again: a thread serving one client's polls
    /// (the common case) finds its key by comparing the presented bytes with the last key's,
    /// without making a string of the key or hashing its 72 bytes.
    private struct KeyCache {
        private var table: [String: CachedKey] = [:]
        private var lastKey: [UInt8] = []
        private var last: CachedKey?

        /// The last entry found or stored, when `key` is its key's bytes.
        func lastEntry(_ key: Span<UInt8>) -> CachedKey? {
            guard let last, key.count == lastKey.count, bytesEqual(key, 0, lastKey.span, 0, key.count) else {
                return nil
            }
            return last
        }

        mutating func entry(_ key: String) -> CachedKey? {
            guard let found = table[key] else { return nil }
            remember(found, key)
            return found
        }

        /// Caches `entry` for `key`, dropping every entry first when there are `limit` already.
        mutating func store(_ entry: CachedKey, for key: String, limit: Int) {
            if table.count >= limit { table.removeAll() }
            table[key] = entry
            remember(entry, key)
        }

        private mutating func remember(_ entry: CachedKey, _ key: String) {
            lastKey.removeAll(keepingCapacity: true)
            lastKey.append(contentsOf: key.utf8)
            last = entry
        }
    }

    /// Creates an authenticator on the store's `keys` database.
    public init(store: any WorkflowStorage) { self.store = store }

    /// A new random key: `bomflow_` followed by 64 hexadecimal digits (256 bits).
    public static func generateKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = Array("0123456789abcdef".utf8)
        var text = Array("bomflow_".utf8)
        for _ in 0..<32 {
            let byte = UInt8.random(in: 0...255, using: &generator)
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The stored form of a key.
    public static func digest(of key: String) -> [UInt8] { SHA256.hash(Array(key.utf8)) }

    /// The key presented in `headers`, or why there is none usable (401), or 429 when the
    /// client address has presented too many invalid keys lately.
    /// `now` is the request's start (one clock read per request).
    func authenticate(
        _ headers: HTTPHeaders, from address: String?, now: ContinuousClock.Instant = .now
    ) -> Result<APIKeyRecord, Problem> {
        authenticate(headers, from: address, cachedOnly: false, now: now)!
    }

    /// ``authenticate(_:from:)`` without asking the store: nil when the answer needs a lookup
    /// (the key is not in the cache). For decisions on an event loop when the store's calls block.
    /// A request that presents no key at all is refused at once (the client knows it sent none).
    func authenticateFromCache(_ headers: HTTPHeaders, from address: String?) -> Result<APIKeyRecord, Problem>? {
        guard Self.presentsKey(headers) else { return .failure(Self.unauthorized) }
        return authenticate(headers, from: address, cachedOnly: true, now: .now)
    }

    private func authenticate(
        _ headers: HTTPHeaders, from address: String?, cachedOnly: Bool, now: ContinuousClock.Instant
    ) -> Result<APIKeyRecord, Problem>? {
        if let address, let retry = throttled(address, now: now) {
            return .failure(Self.tooManyFailures(retryAfter: retry))
        }
        guard let result = lookUp(headers, now: now, cachedOnly: cachedOnly) else { return nil }
        if case .failure(let problem) = result, problem.status == .unauthorized, let address, Self.presentsKey(headers)
        {
            var hasher = Hasher()
            for value in headers.values("X-Api-Key") + headers.values("Authorization") { hasher.combine(value) }
            recordFailure(address, key: hasher.finalize(), now: now)
        }
        return result
    }

    private static let xApiKey = HTTPFieldName("X-Api-Key")
    private static let authorization = HTTPFieldName("Authorization")

    static func presentsKey(_ headers: HTTPHeaders) -> Bool {
        var presents = false
        headers.forEachField { name, _ in
            presents = xApiKey.matches(name) || authorization.matches(name)
            return !presents
        }
        return presents
    }

    /// Seconds until the address may try again, or nil when it is not throttled.
    private func throttled(_ address: String, now: ContinuousClock.Instant) -> Int? {
        guard anyFailures.load(ordering: .relaxed) else { return nil }
        return failures.withLock { table in
            guard let window = table[address] else { return nil }
            let end = window.started + Self.failureWindow
            if now >= end {
                table[address] = nil
                return nil
            }
            guard window.keys.count > Self.failureLimit else { return nil }
            return max(1, Int((end - now).components.seconds) + 1)
        }
    }

    private func recordFailure(_ address: String, key: Int, now: ContinuousClock.Instant) {
        anyFailures.store(true, ordering: .relaxed)
        failures.withLock { table in
            if table.count >= 65536 { table.removeAll() }
            if var window = table[address], now < window.started + Self.failureWindow {
                if window.keys.count <= Self.failureLimit { window.keys.insert(key) }
                table[address] = window
            } else {
                table[address] = FailureWindow(started: now, keys: [key])
            }
        }
    }

    static func tooManyFailures(retryAfter seconds: Int) -> Problem {
        Problem(
            status: .tooManyRequests, type: Problem.base + "too-many-failures",
            title: "Too many failed authentications",
            detail: "Too many invalid API keys from this address; try again in \(seconds) s",
            headers: [("Retry-After", String(seconds))])
    }

    private func lookUp(_ headers: HTTPHeaders, now: ContinuousClock.Instant, cachedOnly: Bool) -> Result<
        APIKeyRecord, Problem
    >? {
        // A missing or malformed key takes the wrong key's path: the empty key, which no stored key
        // has, is looked up and cached like any other, so neither the answer nor its timing tells
        // which of the three it was (RELIABILITY.md A2).
        let presented = Self.presentedKey(headers).flatMap { $0.count <= 512 ? $0 : nil } ?? 0..<0
        let elapsed = origin.duration(to: now)
        let last = headers.withBytes { bytes in
            let key = bytes.extracting(presented)
            return cache.withLock { $0.lastEntry(key) }
        }
        if let last, last.expires > elapsed {
            return last.record.map { .success($0) } ?? .failure(Self.unauthorized)
        }
        let key = headers.withBytes { HTTPHeaders.string($0.extracting(presented)) }
        if let cached = cache.withLock({ $0.entry(key) }), cached.expires > elapsed {
            return cached.record.map { .success($0) } ?? .failure(Self.unauthorized)
        }
        if cachedOnly { return nil }
        let record: APIKeyRecord?
        do {
            // A sign-in session of the operator page is stored like a key but is none (it lives in
            // a cookie): refused here, once per cache lifetime, not on every request.
            record = try store.apiKey(digest: Self.digest(of: key)).flatMap {
                UISessions.parse($0.name) == nil ? $0 : nil
            }
        } catch {
            return .failure(Problem.storage(error))
        }
        // Into every thread's copy: a key looked up on a request thread is then known to the event
        // loops too (they judge a body's request from the cache alone when the store's calls block).
        let entry = CachedKey(record: record, expires: elapsed + Self.cacheLifetime)
        cache.withEach { $0.store(entry, for: key, limit: 4096) }
        return record.map { .success($0) } ?? .failure(Self.unauthorized)
    }

    /// Where the one key the request presents is in `headers`' bytes (in `X-Api-Key`, or as
    /// `Authorization: Bearer`, any number of times), or nil when it presents none or several
    /// different ones.
    static func presentedKey(_ headers: HTTPHeaders) -> Range<Int>? {
        var presented: Range<Int>?
        var several = false
        headers.forEachFieldBounds { bytes, field in
            let name = bytes.extracting(field.name)
            let candidate: Range<Int>
            if Self.xApiKey.matches(name) {
                candidate = field.value
            } else if Self.authorization.matches(name) {
                guard let token = bearerToken(bytes, field.value) else { return true }
                candidate = token
            } else {
                return true
            }
            if let earlier = presented {
                guard earlier.count == candidate.count,
                    bytesEqual(bytes, earlier.lowerBound, bytes, candidate.lowerBound, candidate.count)
                else {
                    several = true
                    return false
                }
            }
            presented = candidate
            return true
        }
        return several ? nil : presented
    }

    /// The token of an `Authorization` value that is `Bearer` (any case), one space and a
    /// token without spaces; nil for any other value.
    private static func bearerToken(_ bytes: Span<UInt8>, _ value: Range<Int>) -> Range<Int>? {
        guard let space = firstOffset(of: 0x20, in: bytes, value),
            firstOffset(of: 0x20, in: bytes, (space + 1)..<value.upperBound) == nil,
            space + 1 < value.upperBound,
            HTTPHeaders.equalsIgnoringCase(bytes.extracting(value.lowerBound..<space), "bearer")
        else { return nil }
        return (space + 1)..<value.upperBound
    }

    /// The one 401, whether the key is missing, malformed or wrong (RELIABILITY.md A2: the
    /// answer must not tell an attacker which).
    static let unauthorized = Problem(
        status: .unauthorized, type: Problem.base + "unauthorized", title: "Unauthorized",
        detail: "A valid API key is required (X-Api-Key or Authorization: Bearer)",
        headers: [("WWW-Authenticate", #"Bearer realm="bomflow""#)])

    static func forbidden(_ needed: Permission) -> Problem {
        Problem(
            status: .forbidden, type: Problem.base + "forbidden", title: "Forbidden",
            detail: "This API key lacks the \(needed.name) permission")
    }

    /// Creates a key with `permissions` under `name` and returns it (the only time it is shown),
    /// or nil when the name is taken. The one place keys are made: `serve`'s bootstrap and
    /// ephemeral keys and `bomflow keys create` all come here.
    public static func issueKey(
        in store: any WorkflowStorage, name: String, permissions: Permission
    ) throws(StoreError) -> String? {
        let key = generateKey()
        guard try store.addAPIKey(digest: digest(of: key), name: name, permissions: permissions.rawValue) else {
            return nil
        }
        return key
    }
}
