/// Escaping for HTML text and attribute values: every value that is not a literal of this module
/// goes through ``HTML/escape(_:)`` (labels, reasons, step and worker names are user data).
public enum HTML {
    /// `&`, `<`, `>`, `"` and `'` as entities; nothing else changes.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// `text` percent-encoded for a URL query value (unreserved characters kept).
    public static func queryValue(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%"
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0xF)]))
            }
        }
        return out
    }
}

/// Who looks at a page: their key's name, whether they may act, and the token their forms carry.
public struct Viewer: Sendable, Equatable {
    /// The API key's name (nil when the server runs without keys).
    public var name: String?
    /// ADMIN keys see the action buttons.
    public var isAdmin: Bool
    /// The CSRF token every form of the page sends back.
    public var csrf: String

    public init(name: String?, isAdmin: Bool, csrf: String) {
        self.name = name
        self.isAdmin = isAdmin
        self.csrf = csrf
    }

    /// The hidden field of a form.
    var csrfField: String { #"<input type="hidden" name="csrf" value="\#(HTML.escape(csrf))">"# }
}
