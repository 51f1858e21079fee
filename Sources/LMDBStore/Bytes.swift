internal import Storage

/// Appends big-endian integers and length-prefixed strings to a byte array.
///
/// Integer key parts are big-endian so that LMDB's `memcmp` order is numeric order
/// (docs/STORAGE.md); record fields use the same encoding for simplicity.
struct ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    mutating func append(_ value: UInt8) { bytes.append(value) }

    mutating func append(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    mutating func append(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    mutating func append(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    /// A signed value with the sign bit flipped, so that negative values sort first.
    mutating func append(ordered value: Int64) { append(UInt64(bitPattern: value) ^ (1 << 63)) }

    mutating func append(contentsOf other: [UInt8]) { bytes.append(contentsOf: other) }

    /// A string preceded by its UTF-8 length in one byte (callers guarantee ≤ 255 bytes).
    mutating func appendShortString(_ text: String) {
        let utf8 = Array(text.utf8)
        precondition(utf8.count <= 255)
        append(UInt8(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// A string preceded by its UTF-8 length in two bytes (callers guarantee ≤ 65,535 bytes).
    mutating func appendString(_ text: String) {
        let utf8 = Array(text.utf8)
        precondition(utf8.count <= 0xFFFF)
        append(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}

/// Reads what ``ByteWriter`` wrote from a borrowed span, keeping only the position (a span
/// cannot be stored in an escapable value). Every read is bounds-checked: a short or malformed
/// record throws ``StoreError/corrupted(_:)`` instead of trapping.
struct ByteReader {
    var offset = 0

    func need(_ count: Int, _ span: Span<UInt8>) throws(StoreError) {
        guard count >= 0, span.count - offset >= count else { throw .corrupted("record ends early at byte \(offset)") }
    }

    mutating func uint8(_ span: Span<UInt8>) throws(StoreError) -> UInt8 {
        try need(1, span)
        defer { offset += 1 }
        return span[offset]
    }

    mutating func uint16(_ span: Span<UInt8>) throws(StoreError) -> UInt16 {
        try need(2, span)
        defer { offset += 2 }
        return UInt16(span[offset]) << 8 | UInt16(span[offset + 1])
    }

    mutating func uint32(_ span: Span<UInt8>) throws(StoreError) -> UInt32 {
        try need(4, span)
        defer { offset += 4 }
        var value: UInt32 = 0
        for index in offset..<offset + 4 { value = value << 8 | UInt32(span[index]) }
        return value
    }

    mutating func uint64(_ span: Span<UInt8>) throws(StoreError) -> UInt64 {
        try need(8, span)
        defer { offset += 8 }
        return loadUInt64(span, at: offset)
    }

    mutating func int64(_ span: Span<UInt8>) throws(StoreError) -> Int64 { Int64(bitPattern: try uint64(span)) }

    mutating func bytes(_ count: Int, _ span: Span<UInt8>) throws(StoreError) -> [UInt8] {
        try need(count, span)
        var out = [UInt8]()
        out.reserveCapacity(count)
        for index in offset..<offset + count { out.append(span[index]) }
        offset += count
        return out
    }

    mutating func shortString(_ span: Span<UInt8>) throws(StoreError) -> String {
        let count = Int(try uint8(span))
        return try utf8String(count, span)
    }

    mutating func string(_ span: Span<UInt8>) throws(StoreError) -> String {
        let count = Int(try uint16(span))
        return try utf8String(count, span)
    }

    private mutating func utf8String(_ count: Int, _ span: Span<UInt8>) throws(StoreError) -> String {
        let raw = try bytes(count, span)
        guard let text = String(validating: raw, as: UTF8.self) else { throw .corrupted("invalid UTF-8 in record") }
        return text
    }
}

/// Reads a big-endian `UInt64` at `offset` of a span (key parsing).
func loadUInt64(_ span: Span<UInt8>, at offset: Int) -> UInt64 {
    var value: UInt64 = 0
    for index in offset..<offset + 8 { value = value << 8 | UInt64(span[index]) }
    return value
}

/// Reads a big-endian `UInt64` at `offset` of an array (key parsing).
func loadUInt64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
    var value: UInt64 = 0
    for index in offset..<offset + 8 { value = value << 8 | UInt64(bytes[index]) }
    return value
}

/// True when `span` begins with `prefix` (index key ranges).
func hasPrefix(_ span: Span<UInt8>, _ prefix: [UInt8]) -> Bool {
    guard span.count >= prefix.count else { return false }
    for index in prefix.indices where span[index] != prefix[index] { return false }
    return true
}
