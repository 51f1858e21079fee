internal import CLMDB

#if canImport(Glibc)
    internal import Glibc
#endif

/// What is wrong with a `data.mdb` before anything maps it.
public enum DataFileProblem: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file is empty (0 bytes): a store that existed has lost its data.
    case empty(path: String)
    /// Neither meta page carries LMDB's magic number and version.
    case notLMDB(path: String)
    /// The file is shorter than the pages its newest meta page says it holds: reading them would
    /// fault (SIGBUS) inside LMDB.
    case truncated(path: String, size: Int, needed: Int)
    /// The file cannot be read.
    case unreadable(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .empty(let path): "\(path) is empty"
        case .notLMDB(let path): "\(path) is not an LMDB data file (no valid meta page)"
        case .truncated(let path, let size, let needed):
            "\(path) is shorter than its last page (\(size) bytes, \(needed) needed): truncated"
        case .unreadable(let path, let code): "cannot read \(path): \(LMDBError(code: code))"
        }
    }
}

/// The fixed layout of an LMDB 0.9 data file, read with `pread` (never mapped), so that a damaged
/// file is reported instead of faulting: page header 16 bytes; pages 0 and 1 are meta pages
/// (`MDB_meta` at offset 16: magic, version, address, map size, the free and main `MDB_db`s of
/// 48 bytes each, last page number, transaction ID).
public struct DataFile: Sendable {
    /// What the newest valid meta page says.
    public struct Meta: Sendable, Equatable {
        public var pageSize: Int
        public var lastPage: Int
        public var transactionID: Int
        public var mapSize: Int
        /// Root pages of the free-page database and the main database (nil when empty).
        public var freeRoot: Int?
        public var mainRoot: Int?
    }

    static let magic: UInt32 = 0xBEEF_C0DE
    static let dataVersion: UInt32 = 1
    static let headerSize = 16
    static let invalidPage = UInt64.max

    public let path: String
    public let size: Int
    public let meta: Meta

    /// Reads and checks the meta pages of `path` and compares the file's size with them.
    /// - Throws: ``DataFileProblem``.
    public init(path: String) throws(DataFileProblem) {
        let fd = unsafe open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, errno: errno) }
        defer { _ = close(fd) }
        var info = stat()
        guard unsafe fstat(fd, &info) == 0 else { throw .unreadable(path: path, errno: errno) }
        guard info.st_size > 0 else { throw .empty(path: path) }
        // Page 0 tells the page size; page 1 sits one page further.
        guard let first = Self.readMeta(fd, at: 0) else { throw .notLMDB(path: path) }
        var best = first
        if let second = Self.readMeta(fd, at: first.pageSize), second.transactionID > first.transactionID {
            best = second
        }
        // The size is read after the meta pages: another process may be committing, and LMDB
        // writes a transaction's pages (growing the file) before the meta page that counts them,
        // so the file is never shorter than a meta page already readable says. The other order
        // would see an old size and a new meta page, and call a healthy file truncated.
        guard unsafe fstat(fd, &info) == 0 else { throw .unreadable(path: path, errno: errno) }
        let size = Int(info.st_size)
        let needed = (best.lastPage + 1) * best.pageSize
        guard size >= needed else { throw .truncated(path: path, size: size, needed: needed) }
        self.path = path
        self.size = size
        self.meta = best
    }

    /// Reads `count` bytes at `offset`; nil when fewer are there.
    static func read(_ fd: Int32, at offset: Int, count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        let got = unsafe buffer.withUnsafeMutableBytes { bytes in
            unsafe pread(fd, bytes.baseAddress, count, off_t(offset))
        }
        return got == count ? buffer : nil
    }

    static func uint16(_ bytes: [UInt8], _ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
    static func uint32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) }
    }
    static func uint64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * $1) }
    }

    /// The meta page at `offset`, when it carries the magic and version.
    static func readMeta(_ fd: Int32, at offset: Int) -> Meta? {
        guard let page = read(fd, at: offset, count: headerSize + 136) else { return nil }
        let meta = headerSize
        guard uint32(page, meta) == magic, uint32(page, meta + 4) == dataVersion else { return nil }
        // mm_dbs[0] (free DB): md_pad holds the page size.
        let freeDB = meta + 24
        let mainDB = freeDB + 48
        let pageSize = Int(uint32(page, freeDB))
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else { return nil }
        func root(_ db: Int) -> Int? {
            let value = uint64(page, db + 40)
            return value == invalidPage ? nil : Int(truncatingIfNeeded: value)
        }
        return Meta(
            pageSize: pageSize, lastPage: Int(truncatingIfNeeded: uint64(page, meta + 120)),
            transactionID: Int(truncatingIfNeeded: uint64(page, meta + 128)),
            mapSize: Int(truncatingIfNeeded: uint64(page, meta + 16)), freeRoot: root(freeDB), mainRoot: root(mainDB))
    }
}

extension DataFile {
    /// Walks every page reachable from the meta page, read-only with `pread`: the free-page
    /// database, the main database and every named database in it, with their branch, leaf
    /// and overflow pages. Each page must say it is the page it was reached as, carry the flags
    /// of its kind and sane bounds, and be reached once. A zeroed or overwritten page shows up
    /// here instead of as an assertion or a fault inside LMDB.
    /// - Returns: the pages visited and the problems found (at most `limit`).
    public func walk(limit: Int = 100) -> (pages: Int, problems: [String]) {
        let fd = unsafe open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return (0, ["cannot read \(path): \(LMDBError(code: errno))"]) }
        defer { _ = close(fd) }
        let pageSize = meta.pageSize
        var problems: [String] = []
        var seen = Set<Int>()
        var stack: [(page: Int, database: String)] = []
        if let root = meta.freeRoot { stack.append((root, "free pages")) }
        if let root = meta.mainRoot { stack.append((root, "main")) }
        func problem(_ text: String) { if problems.count < limit { problems.append(text) } }
        while let (number, database) = stack.popLast() {
            guard (2...meta.lastPage).contains(number) else {
                problem("database \(database): page \(number) is outside the file's pages 2...\(meta.lastPage)")
                continue
            }
            guard seen.insert(number).inserted else {
                problem("database \(database): page \(number) is reached twice")
                continue
            }
            guard let page = Self.read(fd, at: number * pageSize, count: pageSize) else {
                problem("database \(database): page \(number) cannot be read")
                continue
            }
            let stored = Self.uint64(page, 0)
            let flags = Self.uint16(page, 10)
            let lower = Int(Self.uint16(page, 12))
            let upper = Int(Self.uint16(page, 14))
            guard stored == UInt64(number) else {
                problem("database \(database): page \(number) says it is page \(stored) (zeroed or overwritten)")
                continue
            }
            let isBranch = flags & 0x01 != 0
            let isLeaf = flags & 0x02 != 0
            guard isBranch != isLeaf, flags & 0x2C == 0 else {
                problem("database \(database): page \(number) has flags \(String(flags, radix: 16)), not a tree page")
                continue
            }
            guard lower >= Self.headerSize, lower <= upper, upper <= pageSize, (lower - Self.headerSize) % 2 == 0 else {
                problem("database \(database): page \(number) has bounds \(lower)/\(upper)")
                continue
            }
            for index in 0..<(lower - Self.headerSize) / 2 {
                let offset = Int(Self.uint16(page, Self.headerSize + 2 * index))
                guard offset >= upper, offset + 8 <= pageSize else {
                    problem("database \(database): page \(number) node \(index) lies outside the page")
                    break
                }
                let low = UInt64(Self.uint16(page, offset))
                let high = UInt64(Self.uint16(page, offset + 2))
                let nodeFlags = Self.uint16(page, offset + 4)
                let keySize = Int(Self.uint16(page, offset + 6))
                if isBranch {
                    stack.append((Int(truncatingIfNeeded: low | high << 16 | UInt64(nodeFlags) << 32), database))
                    continue
                }
                let data = offset + 8 + keySize
                if nodeFlags & 0x01 != 0 {  // F_BIGDATA: the value is on overflow pages
                    guard data + 8 <= pageSize else {
                        problem("database \(database): page \(number) node \(index) lies outside the page")
                        break
                    }
                    checkOverflow(fd, Int(truncatingIfNeeded: Self.uint64(page, data)), database, &seen, problem)
                } else if nodeFlags & 0x02 != 0 {  // F_SUBDATA: a named database's MDB_db
                    guard data + 48 <= pageSize else {
                        problem("database \(database): page \(number) node \(index) lies outside the page")
                        break
                    }
                    let root = Self.uint64(page, data + 40)
                    let name = String(decoding: page[(offset + 8)..<(offset + 8 + keySize)], as: UTF8.self)
                    if root != Self.invalidPage { stack.append((Int(truncatingIfNeeded: root), name)) }
                }
            }
        }
        return (seen.count, problems)
    }

    private func checkOverflow(
        _ fd: Int32, _ number: Int, _ database: String, _ seen: inout Set<Int>, _ problem: (String) -> Void
    ) {
        guard (2...meta.lastPage).contains(number),
            let header = Self.read(fd, at: number * meta.pageSize, count: Self.headerSize)
        else {
            problem("database \(database): overflow page \(number) is outside the file")
            return
        }
        let pages = Int(Self.uint32(header, 12))
        guard Self.uint64(header, 0) == UInt64(number), Self.uint16(header, 10) & 0x04 != 0, pages >= 1,
            number + pages - 1 <= meta.lastPage
        else {
            problem("database \(database): overflow page \(number) is damaged (zeroed or overwritten)")
            return
        }
        for page in number..<(number + pages) where !seen.insert(page).inserted {
            problem("database \(database): overflow page \(page) is reached twice")
        }
    }
}

/// fsync(2) of a file or a directory (a rename is durable once its directory is synced).
public enum FileSync {
    /// - Throws: ``DataFileProblem/unreadable(path:errno:)`` when the path cannot be opened or synced.
    public static func synchronize(path: String) throws(DataFileProblem) {
        let fd = unsafe open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, errno: errno) }
        defer { _ = close(fd) }
        guard fsync(fd) == 0 else { throw .unreadable(path: path, errno: errno) }
    }
}
