#if canImport(Glibc)
    internal import Glibc
#endif

enum System {
    /// `sysconf(_SC_NPROCESSORS_ONLN)`.
    static var activeProcessorCount: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
}

extension System {
    /// The calling thread (`pthread_self`): a cheap identity check, no system call.
    static var currentThread: UInt { UInt(pthread_self()) }
}

/// The wall clock for the `Date` header.
enum WallClock {
    static func secondsSinceEpoch() -> Int64 { Int64(time(nil)) }
}
