internal import Codecs
internal import HTTP1
internal import Interchange
internal import JSON
internal import Storage
internal import WorkflowModel

/// The fields of a BOM upload, from either body Dependency-Track accepts: `PUT /api/v1/bom`
/// (JSON, the BOM in base64) or `POST /api/v1/bom` (multipart/form-data, the BOM as it is).
struct BomUploadFields {
    var bom: [UInt8]?
    var project: String?
    var projectName: String?
    var projectVersion: String?
    var autoCreate = false
    var isActive = true
    var isLatest = false
    var parentName: String?
    var parentUUID: String?
    var parentVersion: String?
    var projectTags: [String] = []

    static let names: Set<String> = [
        "bom", "project", "projectName", "projectVersion", "autoCreate", "isActive", "isLatest", "parentName",
        "parentUUID", "parentVersion", "projectTags",
    ]

    /// `PUT`: `{"bom": base64, "project" | "projectName"+"projectVersion", …}`; null members are
    /// absent, booleans may also be the strings `true`/`false` (any case), `projectTags` is DT's
    /// `[{"name": …}]` (or plain strings).
    static func json(_ body: [UInt8], maxBomBytes: Int) throws(Problem) -> BomUploadFields {
        try decodeBody(body) { body in
            try body.allowOnly(names)
            var fields = BomUploadFields()
            guard let encoded = try body.string("bom") else { throw JSONError.invalid("bom", "bom is required") }
            guard encoded.utf8.count / 4 * 3 <= maxBomBytes + 3 else { throw Problem.bomTooLarge(maxBomBytes) }
            guard let decoded = Base64.decode(encoded) else {
                throw JSONError.invalid("bom", "bom is not valid base64")
            }
            fields.bom = decoded
            fields.project = try body.string("project")
            fields.projectName = try body.string("projectName")
            fields.projectVersion = try body.string("projectVersion")
            fields.parentName = try body.string("parentName")
            fields.parentUUID = try body.string("parentUUID")
            fields.parentVersion = try body.string("parentVersion")
            for (name, value) in [
                ("autoCreate", \BomUploadFields.autoCreate), ("isActive", \.isActive), ("isLatest", \.isLatest),
            ] {
                guard let member = body.value(name), member != .null else { continue }
                switch member {
                case .bool(let flag): fields[keyPath: value] = flag
                case .string(let text):
                    guard let flag = parseBool(text) else {
                        throw JSONError.invalid(name, "\(name) must be true or false")
                    }
                    fields[keyPath: value] = flag
                default: throw JSONError.invalid(name, "\(name) must be true or false")
                }
            }
            for (index, tag) in (try body.array("projectTags") ?? []).enumerated() {
                switch tag {
                case .string(let name): fields.projectTags.append(name)
                case .object:
                    let item = try JSONObjectReader(tag, context: "projectTags[\(index)]")
                    try item.allowOnly(["name"])
                    guard let name = try item.string("name") else {
                        throw JSONError.invalid("projectTags[\(index)].name", "a tag needs a name")
                    }
                    fields.projectTags.append(name)
                default: throw JSONError.invalid("projectTags[\(index)]", "a tag is {\"name\": …} or a string")
                }
            }
            return fields
        }
    }

    /// `POST`: the same fields as form parts; each at most once, booleans `true`/`True`/`false`…,
    /// `projectTags` comma-separated.
    static func multipart(_ request: HTTPRequest, maxBomBytes: Int) throws(Problem) -> BomUploadFields {
        guard let contentType = request.headers["Content-Type"] else {
            throw Problem.dependencyTrack(.badRequest, "A multipart/form-data body is required")
        }
        guard let boundary = Multipart.boundary(contentType: contentType) else {
            throw Problem.dependencyTrack(
                .badRequest, "The Content-Type must be multipart/form-data with a valid boundary, not '\(contentType)'")
        }
        let parts: [Multipart.Part]
        do { parts = try Multipart.parse(request.body, boundary: boundary) } catch {
            throw Problem.dependencyTrack(.badRequest, error.description)
        }
        var fields = BomUploadFields()
        var seen: Set<String> = []
        for part in parts {
            guard names.contains(part.name) else {
                throw Problem.dependencyTrack(.badRequest, "Unknown form field '\(part.name.prefix(64))'")
            }
            guard seen.insert(part.name).inserted else {
                throw Problem.dependencyTrack(.badRequest, "The form field '\(part.name)' is given more than once")
            }
            if part.name == "bom" {
                guard part.body.count <= maxBomBytes else { throw Problem.bomTooLarge(maxBomBytes) }
                fields.bom = part.body
                continue
            }
            guard let text = String(validating: part.body, as: UTF8.self) else {
                throw Problem.dependencyTrack(.badRequest, "The form field '\(part.name)' is not UTF-8 text")
            }
            switch part.name {
            case "project": fields.project = text
            case "projectName": fields.projectName = text
            case "projectVersion": fields.projectVersion = text
            case "parentName": fields.parentName = text
            case "parentUUID": fields.parentUUID = text
            case "parentVersion": fields.parentVersion = text
            case "projectTags":
                fields.projectTags = text.split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty }
            default:
                guard let flag = parseBool(text) else {
                    throw Problem.dependencyTrack(.badRequest, "The form field '\(part.name)' must be true or false")
                }
                switch part.name {
                case "autoCreate": fields.autoCreate = flag
                case "isActive": fields.isActive = flag
                default: fields.isLatest = flag
                }
            }
        }
        return fields
    }

    static func parseBool(_ text: String) -> Bool? {
        switch text.trimmed.lowercased() {
        case "true": true
        case "false": false
        default: nil
        }
    }

    /// A project named by UUID (which wins) or by name and version, each trimmed, empty meaning
    /// absent; nil when neither is given.
    static func reference(uuid: String?, uuidField: String, name: String?, version: String?) throws(Problem)
        -> ProjectReference?
    {
        if let text = uuid.flatMap(\.nonEmpty) {
            guard let token = Token(text) else {
                throw Problem.dependencyTrack(.badRequest, "\(uuidField) '\(text.prefix(64))' is not a UUID")
            }
            return .uuid(token)
        }
        return name.flatMap(\.nonEmpty).map { .name($0, version: version.flatMap(\.nonEmpty)) }
    }

    /// The upload these fields ask for: the BOM recognised, the project named by UUID or by
    /// name and version (trimmed; empty means absent), the parent likewise.
    func upload(token: Token, createdBy: String?, maxBomBytes: Int) throws(Problem) -> BomUpload {
        guard let bytes = bom, !bytes.isEmpty else {
            throw Problem.dependencyTrack(.badRequest, "The bom field is required and must not be empty")
        }
        guard bytes.count <= maxBomBytes else { throw Problem.bomTooLarge(maxBomBytes) }
        let document: BomDocument
        do { document = try CycloneDX.recognize(bytes) } catch {
            throw Problem.dependencyTrack(.badRequest, error.description)
        }
        guard
            let reference = try Self.reference(
                uuid: project, uuidField: "project", name: projectName, version: projectVersion)
        else {
            throw Problem.dependencyTrack(
                .badRequest, "Either project (a UUID) or projectName (with projectVersion) must be given")
        }
        let parent = try Self.reference(
            uuid: parentUUID, uuidField: "parentUUID", name: parentName, version: parentVersion)
        return BomUpload(
            token: token, project: reference, autoCreate: autoCreate, parent: parent, tags: projectTags,
            isLatest: isLatest, active: isActive, document: document, createdBy: createdBy)
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and line ends (Dependency-Track trims names).
    var trimmed: String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }

    /// The trimmed text, or nil when that is empty.
    var nonEmpty: String? {
        let text = trimmed
        return text.isEmpty ? nil : text
    }
}
