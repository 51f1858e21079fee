// libFuzzer entry for the multipart/form-data parser, compiled by scripts/fuzz together with the
// sources of Sources/HTTP1 (no SwiftPM target, so normal builds never see it).
//
// The input's first byte picks a boundary (among them `+++`, as the generated Dependency-Track
// client sends, and one of 70 characters); the rest is the body. Properties: the parser never
// traps or loops, stays within its part limit, and whatever it accepts survives a round trip:
// serializing the parts and parsing again gives the same parts.

let boundaries = [
    "+++", "b", "----WebKitFormBoundary7MA4YWxkTrZu0gW", String(repeating: "x", count: 70), "a'()+_,-./:=? z",
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = bytes.first else { return 0 }
    let boundary = boundaries[Int(first) % boundaries.count]
    var limits = Multipart.Limits()
    limits.parts = 8
    limits.headerBytes = 256
    limits.headerCount = 4
    let body = Array(bytes.dropFirst())
    guard let parts = try? Multipart.parse(body, boundary: boundary, limits: limits) else { return 0 }
    if parts.count > limits.parts { fatalError("\(parts.count) parts over the limit of \(limits.parts)") }
    let again: [Multipart.Part]
    do {
        again = try Multipart.parse(
            Multipart.serialize(parts, boundary: boundary), boundary: boundary, limits: Multipart.Limits())
    } catch {
        fatalError("the serialized parts do not parse: \(error)")
    }
    if again != parts { fatalError("round trip changed the parts: \(parts) vs \(again)") }
    return 0
}
