import Interchange
import Testing
import WorkflowModel

/// What an upload must be: CycloneDX JSON or CycloneDX XML, kept byte for byte.
struct CycloneDXTests {
    static func recognize(_ text: String) throws -> BomDocument { try CycloneDX.recognize(Array(text.utf8)) }

    @Test func jsonWithSpecVersion() throws {
        let text = #"  {"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}"#
        let document = try Self.recognize(text)
        #expect(document.format == .cycloneDXJSON)
        #expect(document.specVersion == "1.5")
        #expect(document.importFormat == "CycloneDX 1.5")
        #expect(document.bytes == Array(text.utf8), "the bytes are kept as sent, whitespace included")
    }

    @Test func jsonWithByteOrderMark() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array(#"{"bomFormat":"CycloneDX"}"#.utf8)
        let document = try CycloneDX.recognize(bytes)
        #expect(document.specVersion == nil && document.importFormat == "CycloneDX")
        #expect(document.bytes == bytes)
    }

    @Test func xmlWithPrologCommentsAndPrefix() throws {
        let plain = try Self.recognize(
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <!-- generated -->
            <bom xmlns="http://cyclonedx.org/schema/bom/1.4" serialNumber="urn:uuid:x" version="1">
              <components/>
            </bom>

            """)
        #expect(plain.format == .cycloneDXXML && plain.specVersion == "1.4")
        let prefixed = try Self.recognize(
            "<cdx:bom xmlns:cdx='http://cyclonedx.org/schema/bom/1.6'><cdx:components/></cdx:bom>")
        #expect(prefixed.specVersion == "1.6")
        #expect(try Self.recognize(#"<bom xmlns="http://cyclonedx.org/schema/bom/1.2"/>"#).specVersion == "1.2")
    }

    @Test(arguments: [
        ("", "empty"),
        ("   \n", "empty"),
        ("SPDXVersion: SPDX-2.3", "neither CycloneDX JSON nor CycloneDX XML"),
        (#"{"bomFormat":"SPDX"}"#, "not CycloneDX"),
        (#"{"spdxVersion":"SPDX-2.3"}"#, "not CycloneDX"),
        (#"{"bomFormat":"CycloneDX""#, "not valid JSON"),
        (#"{"bomFormat":"CycloneDX","specVersion":"1.5; DROP"}"#, "is not a version"),
        ("[1,2]", "neither"),
        (#"<bom xmlns="http://spdx.org/"></bom>"#, "not CycloneDX"),
        (#"<sbom xmlns="http://cyclonedx.org/schema/bom/1.4"></sbom>"#, "not CycloneDX"),
        (#"<bom></bom>"#, "not CycloneDX"),
        (#"<bom xmlns="http://cyclonedx.org/schema/bom/1.4"><components>"#, "truncated"),
        (#"<bom xmlns="http://cyclonedx.org/schema/bom/1.4"></bom>trailing"#, "truncated"),
        ("<?xml version=\"1.0\"?><!DOCTYPE bom [<!ENTITY x \"y\">]><bom/>", "document type declaration"),
        ("<?xml version=\"1.0\"", "truncated"),
    ])
    func refused(_ text: String, because reason: String) {
        #expect {
            _ = try Self.recognize(text)
        } throws: { error in
            (error as? CycloneDX.Refusal)?.description.contains(reason) == true
        }
    }
}
