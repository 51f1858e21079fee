import Foundation
import Testing

@testable import JSON

/// The strict JSON parser of request bodies and import lines (also fuzzed by scripts/fuzz).
struct JSONParserTests {
    @Test func valuesAndTypes() throws {
        let value = try JSONParser.parse(
            Array(
                #" {"a":[1,-0,1.5,1e3,-2E-2,true,false,null,"x"],"b":{},"c":[],"big":9223372036854775807,"bigger":9223372036854775808} "#
                    .utf8))
        #expect(
            value
                == .object([
                    "a": .array([
                        .integer(1), .integer(0), .number(1.5), .number(1000), .number(-0.02), .bool(true),
                        .bool(false),
                        .null, .string("x"),
                    ]),
                    "b": .object([:]), "c": .array([]), "big": .integer(.max),
                    "bigger": .number(9_223_372_036_854_775_808),
                ]))
        #expect(try JSONParser.parse(Array("1.0".utf8)) == .number(1), "a fraction makes a number, not an integer")
    }

    @Test func stringEscapes() throws {
        let text = #""\"\\\/\b\f\n\r\t\u00e9\u20AC\ud83d\ude00 é€😀""#
        #expect(try JSONParser.parse(Array(text.utf8)) == .string("\"\\/\u{8}\u{c}\n\r\té€😀 é€😀"))
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "{,}", #"{"a"}"#, #"{"a":}"#, #"{"a":1,}"#, "01", "1.", ".5", "+1", "-", "1e",
        "1e+", "NaN", "Infinity", "1e999", "nul", "tru", "[1 2]", "{} x", #""abc"#, #""\x""#, #""\u12""#,
        #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, "\"a\u{1}b\"", "\"tab\there\"", #"{"a":1,"a":2}"#,
        String(repeating: "[", count: 65) + String(repeating: "]", count: 65),
    ])
    func refused(text: String) {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0xED, 0xA0, 0x80, 0x22]) }
    }

    @Test func sixtyFourLevelsAreFine() throws {
        let text = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    /// Agrees with Foundation on what Foundation accepts (where both are defined: no duplicate
    /// members, integers within Int64; Booleans are left out, Foundation gives them as numbers).
    @Test func agreesWithJSONSerialization() throws {
        let documents = [
            #"{"token":"00000000-0000-4000-8000-000000000001","steps":[{"step":"A","parent":null}],"n":-12,"f":0.25}"#,
            #"["\u00fc", "\ud834\udd1e", [[[]]], {"k": {"k": ["t", null]}}]"#,
        ]
        for document in documents {
            let ours = try JSONParser.parse(Array(document.utf8))
            let theirs = try JSONSerialization.jsonObject(with: Data(document.utf8), options: [.fragmentsAllowed])
            #expect(ours == convert(theirs), "\(document)")
        }
    }

    func convert(_ value: Any) -> JSONValue {
        switch value {
        case is NSNull: return .null
        case let text as String: return .string(text)
        case let array as [Any]: return .array(array.map(convert))
        case let object as [String: Any]: return .object(object.mapValues(convert))
        case let number as NSNumber:
            if let integer = Int64(exactly: number.doubleValue), !"\(number)".contains(".") { return .integer(integer) }
            return .number(number.doubleValue)
        default: return .null
        }
    }
}

/// The shallow parse of uploaded BOMs: the same texts accepted and refused (at the same offset)
/// as the full parse, only the top levels built. scripts/fuzz checks the same differentially.
struct ShallowParseTests {
    @Test(arguments: [
        #"{"bomFormat":"CycloneDX","components":[{"name":"a","purl":"pkg:x/a@1"},{"n":[1,2e3,-0.5]}]}"#,
        #"{"a":{"b":{"b":1,"c":"\u00e9\ud83d\ude00"}}}"#,
        #"{"a":[{"x":1,"x":2}]}"#,
        #"{"a":[{"\u0078":1,"x":2}]}"#,
        #"{"a":[1e400]}"#,
        #"{"a":[1234567890123456789012345678901234567890]}"#,
        #"{"a":["\ud800"]}"#,
        "{\"a\":[\"tab\u{09}inside\"]}",
        "{\"a\":[\"\u{00E9}\"]}",
        #"{"a":[01]}"#,
        #"{"a":[tru]}"#,
        #"{"a":{"b":1,}}"#,
    ])
    func acceptsAndRefusesLikeTheFullParse(text: String) {
        let bytes = Array(text.utf8)
        let full = Result { () throws(JSONError) in try JSONValue.parse(bytes) }
        let shallow = Result { () throws(JSONError) in try JSONValue.parse(bytes, keepDepth: 1) }
        switch (full, shallow) {
        case (.success(.object(let members)), .success(.object(let top))):
            #expect(Set(members.keys) == Set(top.keys))
            for (name, value) in members {
                if case .string = value { #expect(top[name] == value) } else { #expect(top[name] == .null) }
            }
        case (.failure(let error), .failure(let other)):
            #expect(error == other)
        default:
            Issue.record("acceptance differs: \(full) vs \(shallow)")
        }
    }

    @Test func wideObjectsFindRepeatedNamesPastSixteen() {
        let members = (0..<40).map { #""m\#($0)":\#($0)"# } + [#""m25":0"#]
        let bytes = Array(#"{"a":[{"#.utf8) + Array(members.joined(separator: ",").utf8) + Array("}]}".utf8)
        #expect(throws: JSONError.self) { _ = try JSONValue.parse(bytes, keepDepth: 1) }
        let distinct =
            Array(#"{"a":[{"#.utf8) + Array(members.dropLast().joined(separator: ",").utf8) + Array("}]}".utf8)
        #expect(throws: Never.self) { _ = try JSONValue.parse(distinct, keepDepth: 1) }
    }

    @Test func invalidUTF8BelowTheKeptDepthIsRefused() {
        let bytes = Array(#"{"a":[""#.utf8) + [0xC3, 0x28] + Array(#""]}"#.utf8)
        #expect(throws: JSONError.self) { _ = try JSONValue.parse(bytes, keepDepth: 1) }
        #expect(throws: JSONError.self) { _ = try JSONValue.parse(bytes) }
    }
}
