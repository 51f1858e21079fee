import ArgumentParser
import Dispatch
import FoundationEssentials
import Sockets

#if canImport(Glibc)
    import Glibc
#endif

/// A size such as `1048576`, `512KiB`, `64MiB`, `64GiB` (also `KB`/`MB`/`GB`, `K`/`M`/`G`,
/// all powers of 1,024).
struct ByteSize: ExpressibleByArgument, Equatable, CustomStringConvertible {
    let bytes: Int

    init(bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        let text = argument.trimmingWhitespace.uppercased()
        let digits = text.prefix { $0.isNumber }
        guard let number = Int(digits), number >= 0 else { return nil }
        let shift: Int
        switch text.dropFirst(digits.count) {
        case "", "B": shift = 0
        case "K", "KB", "KIB": shift = 10
        case "M", "MB", "MIB": shift = 20
        case "G", "GB", "GIB": shift = 30
        case "T", "TB", "TIB": shift = 40
        default: return nil
        }
        let (value, overflow) = number.multipliedReportingOverflow(by: 1 << shift)
        guard !overflow else { return nil }
        bytes = value
    }

    var description: String {
        for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")]
        where bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(unit)"
        }
        return String(bytes)
    }

    var defaultValueDescription: String { description }
}

/// A duration such as `90s`, `60m`, `72h`, `7d` or `1500ms`; stored in milliseconds.
struct DurationArgument: ExpressibleByArgument, Equatable, CustomStringConvertible {
    let milliseconds: Int64

    init(milliseconds: Int64) { self.milliseconds = milliseconds }

    init?(argument: String) {
        let text = argument.trimmingWhitespace.lowercased()
        let digits = text.prefix { $0.isNumber }
        guard let number = Int64(digits), number > 0 else { return nil }
        let unit: Int64
        switch text.dropFirst(digits.count) {
        case "ms": unit = 1
        case "s": unit = 1000
        case "m": unit = 60_000
        case "h": unit = 3_600_000
        case "d": unit = 86_400_000
        default: return nil
        }
        let (value, overflow) = number.multipliedReportingOverflow(by: unit)
        guard !overflow else { return nil }
        milliseconds = value
    }

    var description: String {
        for (unit, suffix) in [(Int64(86_400_000), "d"), (3_600_000, "h"), (60_000, "m"), (1000, "s")]
        where milliseconds % unit == 0 {
            return "\(milliseconds / unit)\(suffix)"
        }
        return "\(milliseconds)ms"
    }

    var defaultValueDescription: String { description }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmingWhitespace: String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return String(text)
    }
}
