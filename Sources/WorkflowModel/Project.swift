/// A project of the small registry Dependency-Track clients use (look up, create, upload to):
/// what bomflow keeps of Dependency-Track's project, nothing of vulnerability data.
public struct Project: Sendable, Equatable {
    /// The project's UUID.
    public let uuid: Token
    /// The name; with ``version`` unique.
    public var name: String
    /// The version, if any (Dependency-Track allows none).
    public var version: String?
    /// The parent project's UUID.
    public var parent: Token?
    /// Tags, each once, in the order given.
    public var tags: [String]
    /// The latest version of the projects with this name.
    public var isLatest: Bool
    /// Active (Dependency-Track's `active`).
    public var active: Bool
    /// When the last BOM was uploaded to it.
    public var lastBomImport: Timestamp?
    /// The format of that BOM, e.g. `CycloneDX 1.5`.
    public var lastBomImportFormat: String?
    /// When it was created.
    public var createdAt: Timestamp

    public init(
        uuid: Token, name: String, version: String?, parent: Token? = nil, tags: [String] = [],
        isLatest: Bool = false, active: Bool = true, lastBomImport: Timestamp? = nil,
        lastBomImportFormat: String? = nil, createdAt: Timestamp
    ) {
        self.uuid = uuid
        self.name = name
        self.version = version
        self.parent = parent
        self.tags = tags
        self.isLatest = isLatest
        self.active = active
        self.lastBomImport = lastBomImport
        self.lastBomImportFormat = lastBomImportFormat
        self.createdAt = createdAt
    }

    /// Checks the limits: a name of 1 to ``Limits/maxProjectNameBytes`` bytes, a version of at
    /// most ``Limits/maxProjectVersionBytes``, no control characters, at most
    /// ``Limits/maxProjectTags`` tags of 1 to ``Limits/maxProjectTagBytes`` bytes.
    public func validate() throws(WorkflowError) {
        func check(_ text: String, _ what: String, max: Int, allowEmpty: Bool = false) throws(WorkflowError) {
            let count = text.utf8.count
            guard allowEmpty || count > 0 else { throw .invalidProject("the \(what) must not be empty") }
            guard count <= max else { throw .invalidProject("the \(what) is \(count) bytes; at most \(max)") }
            guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw .invalidProject("the \(what) must not contain control characters")
            }
        }
        try check(name, "name", max: Limits.maxProjectNameBytes)
        if let version { try check(version, "version", max: Limits.maxProjectVersionBytes, allowEmpty: true) }
        guard tags.count <= Limits.maxProjectTags else {
            throw .invalidProject("\(tags.count) tags; at most \(Limits.maxProjectTags)")
        }
        for tag in tags { try check(tag, "tag", max: Limits.maxProjectTagBytes) }
        if let format = lastBomImportFormat { try check(format, "BOM format", max: 64) }
    }
}

/// How a stored BOM is encoded.
public enum BomFormat: UInt8, Sendable, CaseIterable {
    case cycloneDXJSON = 1
    case cycloneDXXML = 2

    /// The media type the BOM is served with.
    public var mediaType: String {
        switch self {
        case .cycloneDXJSON: "application/vnd.cyclonedx+json"
        case .cycloneDXXML: "application/vnd.cyclonedx+xml"
        }
    }
}

/// A BOM as uploaded: the exact bytes and what they were recognised as.
public struct BomDocument: Sendable, Equatable {
    public var format: BomFormat
    /// The CycloneDX spec version the document declares (`1.5`), if it declares one.
    public var specVersion: String?
    public var bytes: [UInt8]

    public init(format: BomFormat, specVersion: String?, bytes: [UInt8]) {
        self.format = format
        self.specVersion = specVersion
        self.bytes = bytes
    }

    /// Dependency-Track's `lastBomImportFormat`: `CycloneDX 1.5` (or `CycloneDX` without a version).
    public var importFormat: String { specVersion.map { "CycloneDX " + $0 } ?? "CycloneDX" }
}

/// A stored BOM's size and format, without its bytes (claims, listings).
public struct BomSummary: Sendable, Equatable {
    public var format: BomFormat
    public var size: Int

    public init(format: BomFormat, size: Int) {
        self.format = format
        self.size = size
    }
}
