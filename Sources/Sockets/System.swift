#if canImport(Glibc)
    internal import Glibc
#endif

public enum System {
    /// `sysconf(_SC_NPROCESSORS_ONLN)`.
    public static var activeProcessorCount: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
}

extension System {
    /// The calling thread (`pthread_self`): a cheap identity check, no system call.
    public static var currentThread: UInt { UInt(pthread_self()) }
}

/// The wall clock for the `Date` header.
public enum WallClock {
    public static func secondsSinceEpoch() -> Int64 { Int64(time(nil)) }
}
