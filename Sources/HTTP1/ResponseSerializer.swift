/// Writes responses as HTTP/1.1 bytes (RFC 9112 §4, §6).
///
/// The serializer owns framing: it writes `Date`, `Content-Length` (except for 1xx, 204 and
/// 304) and `Connection`, and drops any of these, and `Transfer-Encoding`, that a handler set.
/// A handler header whose name is not a token or whose value holds CR, LF or NUL is dropped, so
/// input copied into a header can never split a response (RFC 9112 §11.1, R3). Responses are
/// never chunked (H37).
public enum ResponseSerializer {
    /// Appends `response` to `output`.
    /// - Parameters:
    ///   - isHead: the request was HEAD: same headers (including the GET body's length), no body.
    ///   - keepAlive: false adds `Connection: close`; true on an HTTP/1.0 request adds
    ///     `Connection: keep-alive`.
    ///   - date: the `Date` value, IMF-fixdate (``HTTPDate``).
    public static func serialize(
        _ response: HTTPResponse, isHead: Bool, keepAlive: Bool, version: HTTPVersion, date: [UInt8],
        into output: inout [UInt8]
    ) {
        if let prepared = response.preparedForm, keepAlive, version == .http11, !isHead {
            output.reserveCapacity(output.count + prepared.beforeDate.count + date.count + prepared.afterDate.count)
            output.append(contentsOf: prepared.beforeDate)
            output.append(contentsOf: date)
            output.append(contentsOf: prepared.afterDate)
            return
        }
        let status = response.status
        output.reserveCapacity(output.count + 128 + response.body.count)
        output.append(contentsOf: statusLineAndDateName(status))
        output.append(contentsOf: date)
        if !status.forbidsBody {
            output.append(contentsOf: Self.crlfContentLengthName)
            appendDecimal(response.body.count, to: &output)
        }
        output.append(contentsOf: Self.crlf)
        if !keepAlive {
            output.append(contentsOf: Self.connectionClose)
        } else if version == .http10 {
            output.append(contentsOf: Self.connectionKeepAlive)
        }
        if let fields = response.preparedForm?.fields {
            output.append(contentsOf: fields)
        } else {
            appendFields(response.headers, to: &output)
        }
        output.append(contentsOf: Self.crlf)
        if !isHead && !status.forbidsBody { output.append(contentsOf: response.body) }
    }

    /// The serialized fields of `response` and its keep-alive HTTP/1.1 answer split around its
    /// date, as ``serialize(_:isHead:keepAlive:version:date:into:)`` writes them.
    static func prepare(_ response: HTTPResponse) -> HTTPResponse.Prepared {
        var fields: [UInt8] = []
        appendFields(response.headers, to: &fields)
        var whole: [UInt8] = []
        serialize(response.unprepared, isHead: false, keepAlive: true, version: .http11, date: [], into: &whole)
        let beforeDate = statusLineAndDateName(response.status)
        return HTTPResponse.Prepared(
            fields: fields, beforeDate: beforeDate, afterDate: Array(whole[beforeDate.count...]))
    }

    /// Appends each field a handler may set (``isSafe(_:)``) as `name: value` CRLF.
    static func appendFields(_ headers: HTTPHeaders, to output: inout [UInt8]) {
        let packed = headers.packed
        headers.forEachFieldBounds { bytes, field in
            guard isSafe(name: bytes.extracting(field.name), value: bytes.extracting(field.value)) else { return true }
            output.append(contentsOf: packed[field.name])
            output.append(contentsOf: Self.colonSpace)
            output.append(contentsOf: packed[field.value])
            output.append(contentsOf: Self.crlf)
            return true
        }
    }

    /// The bytes of a complete response, for canned answers (503 at the connection cap).
    public static func bytes(_ response: HTTPResponse, keepAlive: Bool, date: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        serialize(response, isHead: false, keepAlive: keepAlive, version: .http11, date: date, into: &output)
        return output
    }

    /// `HTTP/1.1 100 Continue\r\n\r\n`.
    public static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    private static let crlf: [UInt8] = [0x0D, 0x0A]
    private static let colonSpace: [UInt8] = [0x3A, 0x20]
    private static let crlfContentLengthName = Array("\r\nContent-Length: ".utf8)
    private static let connectionClose = Array("Connection: close\r\n".utf8)
    private static let connectionKeepAlive = Array("Connection: keep-alive\r\n".utf8)
    /// Status lines of the statuses the server and API use, each with the `Date` field's name
    /// that always follows it, built once.
    private static let commonStatusLines: [Int: (status: HTTPStatus, line: [UInt8])] = Dictionary(
        uniqueKeysWithValues: [
            HTTPStatus.ok, .created, .noContent, .badRequest, .unauthorized, .forbidden, .notFound, .methodNotAllowed,
            .requestTimeout, .conflict, .contentTooLarge, .uriTooLong, .headerFieldsTooLarge, .internalServerError,
            .notImplemented, .serviceUnavailable, .versionNotSupported, .insufficientStorage,
        ].map { ($0.code, ($0, statusLineAndDateName(building: $0))) })

    private static func statusLineAndDateName(_ status: HTTPStatus) -> [UInt8] {
        if let common = commonStatusLines[status.code], common.status == status { return common.line }
        return statusLineAndDateName(building: status)
    }

    private static func statusLineAndDateName(building status: HTTPStatus) -> [UInt8] {
        Array("HTTP/1.1 \(status.code) \(status.reason)\r\nDate: ".utf8)
    }

    /// Appends the decimal digits of a non-negative `value` without building a String.
    private static func appendDecimal(_ value: Int, to output: inout [UInt8]) {
        var digits = 0
        var rest = value
        repeat {
            digits += 1
            rest /= 10
        } while rest > 0
        let start = output.count
        output.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        rest = value
        var index = start + digits - 1
        repeat {
            output[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
            index -= 1
        } while rest > 0
    }

    /// A token name that is not one the serializer owns, and a value without CR, LF or NUL.
    private static func isSafe(name: Span<UInt8>, value: Span<UInt8>) -> Bool {
        guard !name.isEmpty, allTokenBytes(name) else { return false }
        switch name.count {
        case 4 where HTTPFieldName.date.matches(name): return false
        case 10 where HTTPFieldName.connection.matches(name): return false
        case 14 where HTTPFieldName.contentLength.matches(name): return false
        case 17 where HTTPFieldName.transferEncoding.matches(name): return false
        default:
            var index = 0
            while index < value.count {
                guard value[index] != 0x0D && value[index] != 0x0A && value[index] != 0x00 else { return false }
                index += 1
            }
            return true
        }
    }
}

/// The `Date` header's IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
public enum HTTPDate {
    /// Formats seconds since the Unix epoch.
    public static func format(epochSeconds: Int64) -> String {
        let days = epochSeconds >= 0 ? epochSeconds / 86_400 : (epochSeconds - 86_399) / 86_400
        let secondsOfDay = epochSeconds - days * 86_400
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][Int(((days % 7) + 7) % 7)]
        // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let monthName = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][
            Int(month - 1)]
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return
            "\(weekday), \(two(day)) \(monthName) \(year) \(two(secondsOfDay / 3600)):\(two(secondsOfDay % 3600 / 60)):\(two(secondsOfDay % 60)) GMT"
    }
}
