// libFuzzer entry for the HTTP/1.1 request parser, compiled by scripts/fuzz together with the
// sources of Sources/HTTP1 (no SwiftPM target, so normal builds never see it).
//
// Differential: every input is parsed in one piece and again split at a point chosen by the
// input's first byte; the two event sequences must be identical, every event must come after a
// bounded number of steps, and serializing a parsed request's response must not trap.

/// The outcome sequence of `chunks`, as short strings; stops at the first failure.
func outcomes(_ chunks: [ArraySlice<UInt8>], limits: HTTPLimits) -> [String] {
    var parser = RequestParser(limits: limits)
    var result: [String] = []
    for chunk in chunks {
        parser.append(chunk)
        var steps = 0
        loop: while true {
            steps += 1
            if steps > 10_000 { fatalError("parser made no progress") }
            switch parser.next() {
            case .needMoreBytes: break loop
            case .head(let head, let expectContinue):
                result.append("head \(head.method) \(head.path) \(expectContinue)")
            case .request(let request):
                // The fields themselves too: whole and split input copy them by different paths.
                let fields = request.headers.fields.map { "\($0.name)=\($0.value)" }
                result.append(
                    "request \(request.method) \(request.target) \(request.body.count) \(request.keepAlive) \(fields)")
                var output: [UInt8] = []
                ResponseSerializer.serialize(
                    HTTPResponse(status: .ok, headers: HTTPHeaders([("X-Echo", request.target)]), body: request.body),
                    isHead: request.method == .head, keepAlive: request.keepAlive, version: request.version,
                    date: Array("Thu, 01 Jan 1970 00:00:00 GMT".utf8), into: &output)
            case .failed(let error):
                result.append("failed \(error.status.code)")
                return result
            }
        }
    }
    return result
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var limits = HTTPLimits()
    limits.bodyBytes = 4096
    limits.requestLineBytes = 512
    limits.headerLineBytes = 512
    limits.headerBytes = 2048
    limits.headerCount = 16
    limits.chunkExtensionBytes = 64
    let whole = outcomes([bytes[...]], limits: limits)
    let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    let pieces = outcomes([bytes[..<split], bytes[split...]], limits: limits)
    if whole != pieces { fatalError("split at \(split) changed the outcome: \(whole) vs \(pieces)") }
    return 0
}
