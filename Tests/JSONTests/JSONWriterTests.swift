import Foundation
import Testing

@testable import JSON

/// The writer of every JSON answer: exact text for what clients compare, and text that both
/// our parser and Foundation read back as what was written.
struct JSONWriterTests {
    @Test func escapesWhatRFC8259RequiresAndNothingElse() throws {
        let expected = [
            "\u{0}": #""\u0000""#, "\u{1F}": #""\u001f""#, "\u{0B}": #""\u000b""#, "\n": #""\n""#, "\r": #""\r""#,
            "\t": #""\t""#, "\"": #""\"""#, "\\": #""\\""#, "/": #""/""#, " ": #"" ""#, "\u{7F}": "\"\u{7F}\"",
            "é€😀": "\"é€😀\"", "": #""""#, "plain-text_1.0": #""plain-text_1.0""#,
            "a\"b\\c\nd": #""a\"b\\c\nd""#,
        ]
        for (text, json) in expected {
            var writer = JSONWriter()
            writer.string(text)
            #expect(writer.text == json, "\(Array(text.unicodeScalars))")
        }
    }

    /// Every ASCII character and a few longer ones, alone and inside text, read back by both
    /// parsers as the same string (a member name takes the same path as a value).
    @Test func everyStringReadsBackAsWritten() throws {
        var texts = (0..<0x80).map { String(UnicodeScalar(UInt8($0))) }
        texts += texts.map { "before \($0) after" }
        texts += ["ü", "\u{2028}", "𝄞", String(repeating: "long text ", count: 200) + "\u{1}"]
        for text in texts {
            let bytes = JSONWriter.object { $0.member(text, text) }
            #expect(try JSONParser.parse(bytes) == .object([text: .string(text)]))
            let theirs = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: String]
            #expect(theirs == [text: text])
        }
    }

    @Test func integersAsDecimalText() {
        var numbers: [Int64] = [0, 1, -1, 9, 10, -10, 99, 100, 1_733_184_000_123, .max, .min, .max - 1, .min + 1]
        var power: Int64 = 1
        for _ in 0..<18 {
            power *= 10
            numbers += [power - 1, power, power + 1, -power]
        }
        for number in numbers {
            var writer = JSONWriter()
            writer.number(number)
            #expect(writer.text == String(number))
        }
    }

    @Test func commasBetweenMembersAndElementsOnly() {
        let bytes = JSONWriter.object { json in
            json.member("a", Int64(-12))
            json.key("b")
            json.beginArray()
            json.bool(true)
            json.bool(false)
            json.null()
            json.beginObject()
            json.endObject()
            json.beginArray()
            json.endArray()
            json.number(0.5)
            json.endArray()
            json.member("c", "x")
            json.member("d", false)
        }
        #expect(
            String(decoding: bytes, as: UTF8.self) == #"{"a":-12,"b":[true,false,null,{},[],0.5],"c":"x","d":false}"#)
    }
}
