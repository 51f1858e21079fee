// The backend exists in builds with the package trait PostgreSQL (on by default).
#if PostgreSQL
    internal import Foundation
    internal import NIOCore
    internal import PostgresNIO
    public import Storage
    public import WorkflowModel

    /// The project registry (`bomflow_project`) and the BOMs stored beside their workflows
    /// (`bomflow_bom`), with the same rules as on LMDB.
    extension PostgresStore {
        /// ``WriteOperation/upload(_:)``: the project (found or created), a `BOM_UPLOAD` workflow
        /// keyed by the project's UUID and labelled with it, the BOM, and the project's last import.
        /// The token is checked before anything is written, so a refusal writes nothing.
        func upload(_ upload: BomUpload, by origin: Origin, session: Session, now: Timestamp) throws -> WriteOutcome {
            let found = try loadProject(upload.project, session: session, lock: true)
            if found == nil {
                guard upload.autoCreate, case .name = upload.project else {
                    throw WorkflowError.unknownProject(upload.project.description)
                }
            }
            guard try Self.load(upload.token, session: session, lock: true) == nil else {
                throw WorkflowError.conflictingDefinition(upload.token)
            }
            var project: Project
            if let found {
                project = found
            } else {
                guard case .name(let name, let version) = upload.project else {
                    throw WorkflowError.unknownProject(upload.project.description)
                }
                let draft = ProjectDraft(
                    name: name, version: version, parent: upload.parent, tags: upload.tags, isLatest: upload.isLatest,
                    active: upload.active)
                project = try createProject(draft, session: session, now: now).project
            }
            var labels: [String: String] = ["project": project.uuid.description, "projectName": project.name]
            if let version = project.version { labels["projectVersion"] = version }
            let workflow = try Workflow.make(
                token: upload.token, definition: WorkflowDefinition(template: .bomUpload), labels: try Labels(labels),
                createdBy: upload.createdBy, concurrencyKey: project.uuid.description, now: now)
            let stored = try insert(workflow, by: origin, session: session, now: now)
            var content = ByteBuffer()
            content.writeBytes(upload.document.bytes)
            session.send(
                """
                INSERT INTO bomflow_bom (workflow_id, format, spec_version, content)
                VALUES (\(stored.id), \(Int16(upload.document.format.rawValue)), \(upload.document.specVersion), \(content))
                """)
            project.lastBomImport = now
            project.lastBomImportFormat = upload.document.importFormat
            session.send(
                """
                UPDATE bomflow_project SET last_bom_import = \(now.milliseconds),
                    last_bom_import_format = \(project.lastBomImportFormat) WHERE uuid = \(Rows.uuid(project.uuid))
                """)
            return .uploaded(stored.workflow, project)
        }

        /// Adds a project; `projectExists` when its name and version are taken, `unknownParentProject`
        /// for a parent that does not exist. With `isLatest`, the other versions lose the mark.
        func createProject(_ draft: ProjectDraft, session: Session, now: Timestamp) throws -> (
            project: Project, parent: Project?
        ) {
            var parent: Project?
            if let reference = draft.parent {
                guard let found = try loadProject(reference, session: session, lock: false) else {
                    throw WorkflowError.unknownParentProject(reference.description)
                }
                parent = found
            }
            let project = try draft.project(parent: parent, now: now)
            if try loadProject(.name(project.name, version: project.version), session: session, lock: false) != nil
                || loadProject(.uuid(project.uuid), session: session, lock: false) != nil
            {
                throw WorkflowError.projectExists(name: project.name, version: project.version)
            }
            if project.isLatest {
                session.send("UPDATE bomflow_project SET is_latest = false WHERE name = \(project.name) AND is_latest")
            }
            // A concurrent transaction that took the name or UUID first makes this one retry
            // (unique violation), which then refuses with projectExists.
            session.send(
                """
                INSERT INTO bomflow_project (uuid, name, version, parent, tags, is_latest, active, last_bom_import,
                    last_bom_import_format, created_at)
                VALUES (\(Rows.uuid(project.uuid)), \(project.name), \(project.version), \(project.parent.map(Rows.uuid)),
                    \(project.tags), \(project.isLatest), \(project.active), NULL, NULL, \(now.milliseconds))
                """)
            return (project, parent)
        }

        /// Removes a project (its workflows and BOMs stay until retention).
        func deleteProject(_ uuid: Token, session: Session) throws {
            let rows = try session.query("DELETE FROM bomflow_project WHERE uuid = \(Rows.uuid(uuid)) RETURNING uuid")
            guard rows.first != nil else { throw WorkflowError.unknownProject(uuid.description) }
        }

        /// The size and format of workflow `id`'s BOM.
        func bomSummary(id: Int64, session: Session) throws -> BomSummary? {
            let rows = try session.query(
                "SELECT format, octet_length(content) FROM bomflow_bom WHERE workflow_id = \(id)")
            guard let row = rows.first else { return nil }
            return try Self.decoding {
                let cells = Cells(row)
                let code: Int16 = try cells[0]
                let size: Int32 = try cells[1]
                guard let format = BomFormat(rawValue: UInt8(clamping: code)) else {
                    throw StoreError.corrupted("BOM format \(code)")
                }
                return BomSummary(format: format, size: Int(size))
            }
        }

        // MARK: Reads

        public func project(_ reference: ProjectReference) throws(StoreError) -> Project? {
            try read { session throws(SQLFailure) in
                try Self.decoding { try loadProject(reference, session: session, lock: false) }
            }
        }

        public func projects(named name: String?, offset: Int, limit: Int) throws(StoreError) -> ProjectPage {
            try read { session throws(SQLFailure) in
                let filter = name == nil ? "" : "WHERE name = $1"
                var binds = PostgresBindings()
                if let name { binds.append(name) }
                let total = try session.query(
                    PostgresQuery(unsafeSQL: "SELECT count(*) FROM bomflow_project \(filter)", binds: binds))
                binds.append(Int64(max(0, offset)))
                binds.append(Int64(max(0, limit)))
                let rows = try session.query(
                    PostgresQuery(
                        unsafeSQL: """
                            SELECT \(Self.projectColumns) FROM bomflow_project \(filter)
                            ORDER BY name COLLATE "C", version COLLATE "C" NULLS FIRST
                            OFFSET $\(binds.count - 1) LIMIT $\(binds.count)
                            """, binds: binds))
                let count: Int64 = try Self.scalar(total) ?? 0
                var projects: [Project] = []
                for row in rows { projects.append(try Self.decoding { try Self.decodeProject(Cells(row)) }) }
                return ProjectPage(projects: projects, total: Int(count))
            }
        }

        static let projectColumns =
            "uuid, name, version, parent, tags, is_latest, active, last_bom_import, last_bom_import_format, created_at"

        func loadProject(_ reference: ProjectReference, session: Session, lock: Bool) throws -> Project? {
            let suffix = lock ? " FOR UPDATE" : ""
            let rows: PostgresQueryResult
            switch reference {
            case .uuid(let uuid):
                rows = try session.query(
                    "SELECT \(unescaped: Self.projectColumns) FROM bomflow_project WHERE uuid = \(Rows.uuid(uuid))\(unescaped: suffix)"
                )
            case .name(let name, let version):
                guard name.utf8.count <= Limits.maxProjectNameBytes,
                    (version?.utf8.count ?? 0) <= Limits.maxProjectVersionBytes, !name.utf8.contains(0),
                    !(version?.utf8.contains(0) ?? false)
                else { return nil }
                rows = try session.query(
                    """
                    SELECT \(unescaped: Self.projectColumns) FROM bomflow_project
                    WHERE name = \(name) AND version IS NOT DISTINCT FROM \(version)\(unescaped: suffix)
                    """)
            }
            guard let row = rows.first else { return nil }
            return try Self.decoding { try Self.decodeProject(Cells(row)) }
        }

        static func decodeProject(_ cells: Cells) throws -> Project {
            let uuid: UUID = try cells[0]
            let parent: UUID? = try cells[3]
            let last: Int64? = try cells[7]
            return Project(
                uuid: Rows.token(uuid), name: try cells[1], version: try cells[2], parent: parent.map(Rows.token),
                tags: try cells[4], isLatest: try cells[5], active: try cells[6],
                lastBomImport: last.map(Timestamp.init(milliseconds:)), lastBomImportFormat: try cells[8],
                createdAt: Timestamp(milliseconds: try cells[9]))
        }
    }
#endif
