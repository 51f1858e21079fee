/// Why a request head could not be written.
public struct RequestHeadError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
}

/// Writes a client's request head. Refuses anything that would let a value end a line early or
/// start another request (CR, LF, NUL in the target or a header value; a method or header name
/// that is not a token; a target with spaces), so no caller can smuggle a header or a request.
public enum RequestSerializer {
    /// `METHOD TARGET HTTP/1.1`, `Host`, the headers, `Content-Length`, the empty line.
    public static func head(
        method: String, target: String, host: String, headers: [(String, String)], bodyLength: Int
    ) throws(RequestHeadError) -> [UInt8] {
        guard !method.isEmpty, method.utf8.allSatisfy(isTokenByte) else {
            throw RequestHeadError(description: "the method '\(method)' is not an HTTP token")
        }
        guard !target.isEmpty, target.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw RequestHeadError(description: "the request target has spaces or control characters")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        bytes += method.utf8
        bytes.append(32)
        bytes += target.utf8
        bytes += " HTTP/1.1\r\n".utf8
        for (name, value) in [("Host", host)] + headers + [("Content-Length", String(bodyLength))] {
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else {
                throw RequestHeadError(description: "the header name '\(name)' is not an HTTP token")
            }
            guard !value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) else {
                throw RequestHeadError(description: "the value of header \(name) has CR, LF or NUL")
            }
            bytes += name.utf8
            bytes += ": ".utf8
            bytes += value.utf8
            bytes += "\r\n".utf8
        }
        bytes += "\r\n".utf8
        return bytes
    }
}
