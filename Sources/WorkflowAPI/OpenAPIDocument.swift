/// The OpenAPI 3.1 document served at `GET /api/openapi.json`: `openapi.json` beside this file,
/// reviewed like code and embedded into the binary at build time (no bundle lookup at run time).
/// Its `info.version` is the placeholder `${BOMFLOW_VERSION}`, filled from ``BomflowVersion``.
/// Tests check that its paths, methods and permissions are the router's routes and that the
/// limits it states are the code's constants.
enum OpenAPIDocument {
    static let placeholder = Array("${BOMFLOW_VERSION}".utf8)

    /// The document as served.
    static let bytes: [UInt8] = {
        let source = PackageResources.openapi_json
        var result: [UInt8] = []
        result.reserveCapacity(source.count)
        var index = 0
        var replaced = false
        while index < source.count {
            if !replaced, source[index] == placeholder[0], index + placeholder.count <= source.count,
                source[index..<index + placeholder.count].elementsEqual(placeholder)
            {
                result.append(contentsOf: BomflowVersion.current.utf8)
                index += placeholder.count
                replaced = true
            } else {
                result.append(source[index])
                index += 1
            }
        }
        return result
    }()
}
