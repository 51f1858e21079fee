internal import CLMDB

#if canImport(Glibc)
    internal import Glibc
#endif

/// An error returned by an LMDB function or by the operating system underneath it.
///
/// LMDB reports both its own negative codes (`MDB_NOTFOUND`, `MDB_MAP_FULL`, …) and plain
/// `errno` values (`EIO`, `ENOSPC`, `EACCES`, …) through the same `int` return value; this
/// type keeps the raw code so either kind can be matched:
///
/// ```swift
/// do { try env.write { … } }
/// catch LMDBError.mapFull { … }
/// ```
///
/// Expected absence (a missing key) is never an error in this wrapper's public API: lookups
/// return `nil`. See lmdb.h "Return Codes" (l.485-495 in 0.9.24) for the list.
public struct LMDBError: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The raw return code: a negative `MDB_*` code or a positive `errno` value.
    public let code: Int32

    /// Creates an error from a raw LMDB or `errno` code.
    public init(code: Int32) { self.code = code }

    /// `MDB_KEYEXIST`: a put with `noOverwrite` found the key present.
    public static let keyExists = LMDBError(code: MDB_KEYEXIST)
    /// `MDB_NOTFOUND`: the key or item was not found. Public lookups return `nil` instead.
    public static let notFound = LMDBError(code: MDB_NOTFOUND)
    /// `MDB_CORRUPTED`: a page has an invalid type; the file is damaged.
    public static let corrupted = LMDBError(code: MDB_CORRUPTED)
    /// `MDB_PANIC`: the environment had a fatal error (for example a failed meta-page write).
    /// The process must stop writing, close the environment and be restarted.
    public static let panic = LMDBError(code: MDB_PANIC)
    /// `MDB_VERSION_MISMATCH`: the lock or data file was made by an incompatible LMDB build.
    public static let versionMismatch = LMDBError(code: MDB_VERSION_MISMATCH)
    /// `MDB_INVALID`: the file is not an LMDB file.
    public static let invalid = LMDBError(code: MDB_INVALID)
    /// `MDB_MAP_FULL`: the map size is reached. Returned by a put or by the commit.
    public static let mapFull = LMDBError(code: MDB_MAP_FULL)
    /// `MDB_DBS_FULL`: more named databases than `maxDatabases`.
    public static let databasesFull = LMDBError(code: MDB_DBS_FULL)
    /// `MDB_READERS_FULL`: every slot of the reader table is taken.
    public static let readersFull = LMDBError(code: MDB_READERS_FULL)
    /// `MDB_TXN_FULL`: the transaction has too many dirty pages.
    public static let transactionFull = LMDBError(code: MDB_TXN_FULL)
    /// `MDB_MAP_RESIZED`: another process grew the map beyond this process's mapping.
    /// ``Environment`` handles it itself by adopting the new size and retrying.
    public static let mapResized = LMDBError(code: MDB_MAP_RESIZED)
    /// `MDB_BAD_RSLOT`: a reader slot was used wrongly (thread/transaction mismatch).
    public static let badReaderSlot = LMDBError(code: MDB_BAD_RSLOT)
    /// `MDB_BAD_TXN`: the transaction must abort (an earlier operation failed) or is invalid.
    public static let badTransaction = LMDBError(code: MDB_BAD_TXN)
    /// `MDB_BAD_VALSIZE`: a key is empty or longer than ``Environment/maxKeySize``.
    public static let badValueSize = LMDBError(code: MDB_BAD_VALSIZE)
    /// `EIO`: the operating system reported an input/output error (for example on `fdatasync`).
    public static let inputOutput = LMDBError(code: EIO)
    /// `ENOSPC`: the file system is full.
    public static let noSpace = LMDBError(code: ENOSPC)
    /// `EACCES`: permission denied on the environment's files.
    public static let accessDenied = LMDBError(code: EACCES)
    /// `EAGAIN`: the lock file is busy (another process is opening or closing the environment).
    public static let tryAgain = LMDBError(code: EAGAIN)
    /// `EBUSY`: resource busy (see `tryAgain`).
    public static let busy = LMDBError(code: EBUSY)

    /// The message `mdb_strerror` gives for the code (it covers `errno` values too).
    public var description: String {
        let message = unsafe String(cString: mdb_strerror(code))
        return "\(message) (\(code))"
    }

    /// Lets `catch LMDBError.mapFull` match any thrown error carrying that code.
    public static func ~= (pattern: LMDBError, value: any Error) -> Bool {
        guard let error = value as? LMDBError else { return false }
        return error.code == pattern.code
    }

    /// Throws an ``LMDBError`` unless `code` is 0 (`MDB_SUCCESS`).
    @inline(__always)
    static func check(_ code: Int32) throws(LMDBError) {
        if code != 0 { throw LMDBError(code: code) }
    }
}
