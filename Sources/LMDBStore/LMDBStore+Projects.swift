internal import LMDB
public import Storage
public import WorkflowModel

/// The project registry and the BOMs stored beside their workflows (docs/STORAGE.md):
/// `projects` (UUID → record), `project-names` (name ‖ version → UUID), `boms` (workflow ID →
/// format ‖ spec version ‖ the exact bytes) and the byte total in `meta`.
extension LMDBStore {
    // MARK: Writes

    /// ``WriteOperation/upload(_:)``: the project (found or created), a `BOM_UPLOAD` workflow
    /// keyed by the project's UUID and labelled with it, the BOM, and the project's last import.
    func upload(_ upload: BomUpload, by origin: Origin, in txn: borrowing WriteTransaction, now: Timestamp) throws
        -> WriteOutcome
    {
        var project: Project
        if let found = try loadProject(upload.project, in: txn) {
            project = found
        } else {
            guard upload.autoCreate, case .name(let name, let version) = upload.project else {
                throw WorkflowError.unknownProject(upload.project.description)
            }
            let draft = ProjectDraft(
                name: name, version: version, parent: upload.parent, tags: upload.tags, isLatest: upload.isLatest,
                active: upload.active)
            project = try createProject(draft, in: txn, now: now).project
        }
        guard try workflowID(for: upload.token, in: txn) == nil else {
            throw WorkflowError.conflictingDefinition(upload.token)
        }
        var labels: [String: String] = ["project": project.uuid.description, "projectName": project.name]
        if let version = project.version { labels["projectVersion"] = version }
        let workflow = try Workflow.make(
            token: upload.token, definition: WorkflowDefinition(template: .bomUpload), labels: try Labels(labels),
            createdBy: upload.createdBy, concurrencyKey: project.uuid.description, now: now)
        let (stored, id) = try insert(workflow, by: origin, in: txn, now: now)
        try putBOM(upload.document, id: id, in: txn)
        project.lastBomImport = now
        project.lastBomImportFormat = upload.document.importFormat
        try putProject(project, in: txn)
        return .uploaded(stored, project)
    }

    /// Adds a project; `projectExists` when its name and version are taken, `unknownParentProject`
    /// for a parent that does not exist. With `isLatest`, the other versions lose the mark.
    func createProject(_ draft: ProjectDraft, in txn: borrowing WriteTransaction, now: Timestamp) throws -> (
        project: Project, parent: Project?
    ) {
        var parent: Project?
        if let reference = draft.parent {
            guard let found = try loadProject(reference, in: txn) else {
                throw WorkflowError.unknownParentProject(reference.description)
            }
            parent = found
        }
        let project = try draft.project(parent: parent, now: now)
        guard
            try txn.value(forKey: Keys.projectName(project.name, version: project.version), in: databases.projectNames)
                == nil
        else { throw WorkflowError.projectExists(name: project.name, version: project.version) }
        guard try txn.value(forKey: project.uuid.bytes, in: databases.projects) == nil else {
            throw WorkflowError.projectExists(name: project.name, version: project.version)
        }
        if project.isLatest {
            for uuid in try projectUUIDs(named: project.name, in: txn) {
                guard var other = try loadProject(.uuid(uuid), in: txn), other.isLatest else { continue }
                other.isLatest = false
                try putProject(other, in: txn)
            }
        }
        try putProject(project, in: txn)
        try txn.put(
            project.uuid.bytes, forKey: Keys.projectName(project.name, version: project.version),
            in: databases.projectNames)
        return (project, parent)
    }

    /// Removes a project and its name entry (its workflows and BOMs stay until retention).
    func deleteProject(_ uuid: Token, in txn: borrowing WriteTransaction) throws {
        guard let project = try loadProject(.uuid(uuid), in: txn) else {
            throw WorkflowError.unknownProject(uuid.description)
        }
        try txn.delete(uuid.bytes, in: databases.projects)
        try txn.delete(Keys.projectName(project.name, version: project.version), in: databases.projectNames)
    }

    private func putProject(_ project: Project, in txn: borrowing WriteTransaction) throws {
        try txn.put(ProjectCodec.encode(project), forKey: project.uuid.bytes, in: databases.projects)
    }

    /// Stores the BOM of workflow `id` and adds its bytes to the total.
    private func putBOM(_ document: BomDocument, id: UInt64, in txn: borrowing WriteTransaction) throws {
        let spec = Array((document.specVersion ?? "").utf8.prefix(32))
        var value = [UInt8]()
        value.reserveCapacity(3 + spec.count + document.bytes.count)
        value.append(1)
        value.append(document.format.rawValue)
        value.append(UInt8(spec.count))
        value.append(contentsOf: spec)
        value.append(contentsOf: document.bytes)
        try txn.put(value, forKey: Keys.workflow(id), in: databases.boms)
        try addToBOMBytes(Int64(document.bytes.count), in: txn)
    }

    /// Deletes the BOM of workflow `id`, if any, and subtracts its bytes from the total.
    func deleteBOM(id: UInt64, in txn: borrowing WriteTransaction) throws {
        guard let summary = try bomSummary(id: id, in: txn) else { return }
        _ = try txn.delete(Keys.workflow(id), in: databases.boms)
        try addToBOMBytes(-Int64(summary.size), in: txn)
    }

    private func addToBOMBytes(_ delta: Int64, in txn: borrowing WriteTransaction) throws {
        let current =
            try txn.withValue(forKey: Keys.bomBytes, in: databases.meta) { span in
                span.count == 8 ? loadUInt64(span, at: 0) : 0
            } ?? 0
        var writer = ByteWriter(capacity: 8)
        writer.append(UInt64(max(0, Int64(clamping: current) + delta)))
        try txn.put(writer.bytes, forKey: Keys.bomBytes, in: databases.meta)
    }

    // MARK: Reads

    /// The size and format of workflow `id`'s BOM, without copying it.
    func bomSummary<T: TransactionReading & ~Copyable>(id: UInt64, in txn: borrowing T) throws -> BomSummary? {
        try txn.withValue(forKey: Keys.workflow(id), in: databases.boms) { span in
            guard span.count >= 3, span[0] == 1, let format = BomFormat(rawValue: span[1]),
                span.count >= 3 + Int(span[2])
            else { throw StoreError.corrupted("BOM record of workflow \(id)") }
            return BomSummary(format: format, size: span.count - 3 - Int(span[2]))
        }
    }

    /// ``WorkflowStorage/bom(_:)``: the exact bytes stored with the workflow.
    public func bom(_ token: Token) throws(StoreError) -> BomDocument? {
        try read { txn in
            guard let id = try workflowID(for: token, in: txn) else { return nil }
            return try bomDocument(id: id, in: txn)
        }
    }

    /// The BOM stored with workflow `id`, or nil.
    func bomDocument<T: TransactionReading & ~Copyable>(id: UInt64, in txn: borrowing T) throws -> BomDocument? {
        guard let value = try txn.value(forKey: Keys.workflow(id), in: databases.boms) else { return nil }
        guard value.count >= 3, value[0] == 1, let format = BomFormat(rawValue: value[1]),
            value.count >= 3 + Int(value[2])
        else { throw StoreError.corrupted("BOM record of workflow \(id)") }
        let specEnd = 3 + Int(value[2])
        let spec = String(decoding: value[3..<specEnd], as: UTF8.self)
        return BomDocument(format: format, specVersion: spec.isEmpty ? nil : spec, bytes: Array(value[specEnd...]))
    }

    /// ``WorkflowStorage/project(_:)``.
    public func project(_ reference: ProjectReference) throws(StoreError) -> Project? {
        try read { txn in try loadProject(reference, in: txn) }
    }

    /// ``WorkflowStorage/projects(named:offset:limit:)``: one cursor range over `project-names`
    /// (all of it without a name), so the cost grows with the projects that match.
    public func projects(named name: String?, offset: Int, limit: Int) throws(StoreError) -> ProjectPage {
        try read { txn in
            let matching = try projectUUIDs(named: name, in: txn)
            let uuids = matching.dropFirst(max(0, offset)).prefix(max(0, limit))
            var projects: [Project] = []
            for uuid in uuids {
                guard let project = try loadProject(.uuid(uuid), in: txn) else {
                    throw StoreError.corrupted("project name entry without a project")
                }
                projects.append(project)
            }
            return ProjectPage(projects: projects, total: matching.count)
        }
    }

    func loadProject<T: TransactionReading & ~Copyable>(_ reference: ProjectReference, in txn: borrowing T) throws
        -> Project?
    {
        let uuid: Token
        switch reference {
        case .uuid(let given): uuid = given
        case .name(let name, let version):
            guard name.utf8.count <= Limits.maxProjectNameBytes,
                (version?.utf8.count ?? 0) <= Limits.maxProjectVersionBytes,
                let found = try txn.withValue(
                    forKey: Keys.projectName(name, version: version), in: databases.projectNames,
                    { span in
                        guard span.count == 16 else { throw StoreError.corrupted("project name entry") }
                        return Token(high: loadUInt64(span, at: 0), low: loadUInt64(span, at: 8))
                    })
            else { return nil }
            uuid = found
        }
        return try txn.withValue(forKey: uuid.bytes, in: databases.projects) { span in
            try ProjectCodec.decode(span)
        }
    }

    /// The UUIDs of the projects named `name` (all without a name), in name and version order:
    /// one cursor range over `project-names`.
    private func projectUUIDs<T: TransactionReading & ~Copyable>(named name: String?, in txn: borrowing T) throws
        -> [Token]
    {
        let prefix = name.map { Keys.projectNamePrefix($0) } ?? []
        return try txn.withCursor(databases.projectNames) { cursor in
            var found: [Token] = []
            var more = prefix.isEmpty ? try cursor.first() : try cursor.seek(atOrAfter: prefix)
            while more {
                let uuid: Token? = try cursor.withCurrent { key, value in
                    guard key.count > prefix.count, hasPrefix(key, prefix) else { return nil }
                    guard value.count == 16 else { throw StoreError.corrupted("project name entry") }
                    return Token(high: loadUInt64(value, at: 0), low: loadUInt64(value, at: 8))
                }
                guard let uuid else { break }
                found.append(uuid)
                more = try cursor.next()
            }
            return found
        }
    }
}

/// The `projects` record: version (1) ‖ UUID (16) ‖ created (8) ‖ flags (1) ‖ name ‖ version? ‖
/// parent? ‖ last import? ‖ last format? ‖ tag count (1) ‖ tags.
enum ProjectCodec {
    private enum Flag {
        static let version: UInt8 = 1
        static let parent: UInt8 = 2
        static let lastImport: UInt8 = 4
        static let lastFormat: UInt8 = 8
        static let isLatest: UInt8 = 16
        static let active: UInt8 = 32
    }

    static func encode(_ project: Project) -> [UInt8] {
        var writer = ByteWriter(capacity: 96)
        writer.append(UInt8(1))
        writer.append(project.uuid.high)
        writer.append(project.uuid.low)
        writer.append(UInt64(bitPattern: project.createdAt.milliseconds))
        var flags: UInt8 = 0
        if project.version != nil { flags |= Flag.version }
        if project.parent != nil { flags |= Flag.parent }
        if project.lastBomImport != nil { flags |= Flag.lastImport }
        if project.lastBomImportFormat != nil { flags |= Flag.lastFormat }
        if project.isLatest { flags |= Flag.isLatest }
        if project.active { flags |= Flag.active }
        writer.append(flags)
        writer.appendString(project.name)
        if let version = project.version { writer.appendString(version) }
        if let parent = project.parent {
            writer.append(parent.high)
            writer.append(parent.low)
        }
        if let last = project.lastBomImport { writer.append(UInt64(bitPattern: last.milliseconds)) }
        if let format = project.lastBomImportFormat { writer.appendString(format) }
        writer.append(UInt8(project.tags.count))
        for tag in project.tags { writer.appendString(tag) }
        return writer.bytes
    }

    static func decode(_ span: Span<UInt8>) throws(StoreError) -> Project {
        var reader = ByteReader()
        let version = try reader.uint8(span)
        guard version == 1 else { throw .corrupted("project record version \(version)") }
        let uuid = Token(high: try reader.uint64(span), low: try reader.uint64(span))
        let createdAt = Timestamp(milliseconds: try reader.int64(span))
        let flags = try reader.uint8(span)
        let name = try reader.string(span)
        let projectVersion = flags & Flag.version != 0 ? try reader.string(span) : nil
        let parent = flags & Flag.parent != 0 ? Token(high: try reader.uint64(span), low: try reader.uint64(span)) : nil
        let last = flags & Flag.lastImport != 0 ? Timestamp(milliseconds: try reader.int64(span)) : nil
        let format = flags & Flag.lastFormat != 0 ? try reader.string(span) : nil
        var tags: [String] = []
        for _ in 0..<Int(try reader.uint8(span)) { tags.append(try reader.string(span)) }
        return Project(
            uuid: uuid, name: name, version: projectVersion, parent: parent, tags: tags,
            isLatest: flags & Flag.isLatest != 0, active: flags & Flag.active != 0, lastBomImport: last,
            lastBomImportFormat: format, createdAt: createdAt)
    }
}
