internal import CLMDB

/// Reads shared by read-only and write transactions.
///
/// Values are lent to closures as `Span<UInt8>`, which cannot escape the closure: LMDB's
/// bytes point into the memory map and are only valid until the transaction ends or, in a
/// write transaction, until the next write (lmdb.h l.249-261, 1271-1276).
public protocol TransactionReading: ~Copyable {
    /// The raw `MDB_txn` pointer; internal to this module.
    var handle: OpaquePointer { get }
}

extension TransactionReading where Self: ~Copyable {
    /// Lends the value stored under `key` to `body` without copying it.
    ///
    /// - Returns: what `body` returns, or `nil` when the key is absent.
    /// - Throws: what `body` throws, or ``LMDBError`` (`badValueSize` for an empty or
    ///   over-long key).
    public func withValue<R>(
        forKey key: [UInt8], in database: Database, _ body: (Span<UInt8>) throws -> R
    ) throws -> R? {
        try withValue(forKey: key.span, in: database, body)
    }

    /// ``withValue(forKey:in:_:)`` with a key the caller lends (an inline array's bytes, so the
    /// hottest lookups allocate no key).
    public func withValue<R>(
        forKey key: Span<UInt8>, in database: Database, _ body: (Span<UInt8>) throws -> R
    ) throws -> R? {
        var value = unsafe MDB_val()
        let code = unsafe key.withUnsafeBytes { keyBytes in
            var keyVal = unsafe MDB_val(
                mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            return unsafe mdb_get(handle, database.handle, &keyVal, &value)
        }
        if code == MDB_NOTFOUND { return nil }
        try LMDBError.check(code)
        return try unsafe withSpan(value, body)
    }

    /// A copy of the value stored under `key`, or `nil` when absent.
    public func value(forKey key: [UInt8], in database: Database) throws -> [UInt8]? {
        try withValue(forKey: key, in: database) { span in Array(span) }
    }

    /// Runs `body` with a cursor over `database`; the cursor is closed when `body` returns.
    public func withCursor<R>(_ database: Database, _ body: (inout Cursor) throws -> R) throws -> R {
        var raw: OpaquePointer?
        try LMDBError.check(unsafe mdb_cursor_open(handle, database.handle, &raw))
        guard let raw = unsafe raw else { throw LMDBError.badTransaction }
        var cursor = unsafe Cursor(handle: raw)
        return try body(&cursor)
    }

    /// The number of entries in `database` (`mdb_stat`).
    public func count(of database: Database) throws -> Int {
        var stat = MDB_stat()
        try LMDBError.check(unsafe mdb_stat(handle, database.handle, &stat))
        return stat.ms_entries
    }
}

@inline(__always)
func withSpan<R>(_ value: MDB_val, _ body: (Span<UInt8>) throws -> R) rethrows -> R {
    let buffer = unsafe UnsafeBufferPointer<UInt8>(
        start: value.mv_data?.assumingMemoryBound(to: UInt8.self), count: value.mv_size)
    return try unsafe body(buffer.span)
}

/// A read-only snapshot (`MDB_RDONLY`), lent by ``Environment/read(_:)``.
///
/// - Note: Not `Sendable` and not copyable: it lives inside the closure that received it.
@safe public struct ReadTransaction: ~Copyable, TransactionReading {
    public let handle: OpaquePointer
}

/// A write transaction, lent by ``Environment/write(_:)``, which commits it when the closure
/// returns and aborts it when the closure throws.
@safe public struct WriteTransaction: ~Copyable, TransactionReading {
    public let handle: OpaquePointer
    private let ownsHandle: Bool

    init(handle: OpaquePointer) {
        unsafe self.handle = unsafe handle
        self.ownsHandle = true
    }

    /// Options for ``put(_:forKey:in:options:)``.
    public struct PutOptions: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// `MDB_NOOVERWRITE`: fail with ``LMDBError/keyExists`` when the key is present.
        public static let noOverwrite = PutOptions(rawValue: UInt32(MDB_NOOVERWRITE))
        /// `MDB_APPEND`: the key is known to sort after every key of the database, so LMDB
        /// appends without searching and fills pages completely. Wrong order → `keyExists`.
        public static let append = PutOptions(rawValue: UInt32(MDB_APPEND))
    }

    /// Stores `value` under `key`, replacing any value there.
    ///
    /// - Throws: ``LMDBError`` — `mapFull` (the transaction must then be aborted, which
    ///   ``Environment/write(_:)`` does when the error propagates), `badValueSize` for an empty
    ///   or over-long key, `keyExists` with `noOverwrite`/`append`.
    public func put(_ value: [UInt8], forKey key: [UInt8], in database: Database, options: PutOptions = []) throws {
        let code = unsafe key.withUnsafeBytes { keyBytes in
            unsafe value.withUnsafeBytes { valueBytes in
                var keyVal = unsafe MDB_val(
                    mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
                var valueVal = unsafe MDB_val(
                    mv_size: valueBytes.count, mv_data: UnsafeMutableRawPointer(mutating: valueBytes.baseAddress))
                return unsafe mdb_put(handle, database.handle, &keyVal, &valueVal, options.rawValue)
            }
        }
        try LMDBError.check(code)
    }

    /// Deletes `key` from `database`.
    /// - Returns: false when the key was absent.
    @discardableResult
    public func delete(_ key: [UInt8], in database: Database) throws -> Bool {
        let code = unsafe key.withUnsafeBytes { keyBytes in
            var keyVal = unsafe MDB_val(
                mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            return unsafe mdb_del(handle, database.handle, &keyVal, nil)
        }
        if code == MDB_NOTFOUND { return false }
        try LMDBError.check(code)
        return true
    }

    /// Commits. Only ``Environment/write(_:)`` calls this, after the body returned.
    consuming func commit() throws(LMDBError) {
        let code = unsafe mdb_txn_commit(handle)
        discard self
        // mdb_txn_commit frees the transaction whether or not it succeeds.
        try LMDBError.check(code)
    }

    deinit { unsafe mdb_txn_abort(handle) }
}

/// A position in a database, moved with ``first()``, ``last()``, ``next()``, ``previous()``
/// and ``seek(atOrAfter:)``, each returning false when there is no entry to move to.
///
/// The current entry is read with ``withCurrent(_:)`` (zero-copy) or ``key``/``value`` (copies).
@safe public struct Cursor: ~Copyable {
    let handle: OpaquePointer
    private var currentKey = unsafe MDB_val()
    private var currentValue = unsafe MDB_val()
    private var positioned = false

    init(handle: OpaquePointer) { unsafe self.handle = unsafe handle }

    deinit { unsafe mdb_cursor_close(handle) }

    private mutating func move(_ op: MDB_cursor_op) throws -> Bool {
        let code = unsafe mdb_cursor_get(handle, &currentKey, &currentValue, op)
        if code == MDB_NOTFOUND {
            positioned = false
            return false
        }
        try LMDBError.check(code)
        positioned = true
        return true
    }

    /// Moves to the first entry. - Returns: false when the database is empty.
    public mutating func first() throws -> Bool { try move(MDB_FIRST) }
    /// Moves to the last entry. - Returns: false when the database is empty.
    public mutating func last() throws -> Bool { try move(MDB_LAST) }
    /// Moves to the next entry. - Returns: false past the end.
    public mutating func next() throws -> Bool { try move(MDB_NEXT) }
    /// Moves to the previous entry. - Returns: false before the start.
    public mutating func previous() throws -> Bool { try move(MDB_PREV) }

    /// Moves to the first entry whose key is ≥ `key` (`MDB_SET_RANGE`).
    /// - Returns: false when every key is smaller.
    public mutating func seek(atOrAfter key: [UInt8]) throws -> Bool {
        let code = unsafe key.withUnsafeBytes { keyBytes in
            unsafe currentKey = unsafe MDB_val(
                mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            return unsafe mdb_cursor_get(handle, &currentKey, &currentValue, MDB_SET_RANGE)
        }
        if code == MDB_NOTFOUND {
            positioned = false
            return false
        }
        try LMDBError.check(code)
        positioned = true
        return true
    }

    /// Lends the current key and value to `body` without copying.
    /// - Precondition: the last move returned true.
    public func withCurrent<R>(_ body: (_ key: Span<UInt8>, _ value: Span<UInt8>) throws -> R) rethrows -> R {
        precondition(positioned, "cursor is not on an entry")
        return try unsafe withSpan(currentKey) { key in
            try unsafe withSpan(currentValue) { value in try body(key, value) }
        }
    }

    /// A copy of the current key. - Precondition: the last move returned true.
    public var key: [UInt8] { withCurrent { key, _ in Array(key) } }
    /// A copy of the current value. - Precondition: the last move returned true.
    public var value: [UInt8] { withCurrent { _, value in Array(value) } }
}

extension Array where Element == UInt8 {
    /// Copies a span of bytes into an array.
    init(_ span: Span<UInt8>) {
        unsafe self.init(unsafeUninitializedCapacity: span.count) { buffer, count in
            for index in span.indices { unsafe buffer[index] = span[index] }
            count = span.count
        }
    }
}
