internal import CPosix
internal import Synchronization

/// SIGTERM and SIGINT as a request to shut down, caught from the moment ``onSignal(_:)``
/// returns.
///
/// A `DispatchSource` signal source is not: libdispatch registers it asynchronously, so a
/// signal that came after the disposition was set to ignore and before the registration was
/// lost (a test harness that sent SIGTERM as soon as `serve --ephemeral` printed its URL saw
/// the server run on). Here a `sigaction` handler, installed before this returns, adds to an
/// eventfd, and a thread of its own (`bomflow-signals`) reads it and runs the callbacks.
public enum ShutdownSignals {
    private struct State {
        var started = false
        var callbacks: [@Sendable () -> Void] = []
    }
    private static let state = Mutex(State())

    /// Runs `body` on the signal thread each time SIGTERM or SIGINT arrives from now on. A
    /// process that cannot catch them (no eventfd) cannot be stopped gracefully: it stops.
    public static func onSignal(_ body: @escaping @Sendable () -> Void) {
        // Under the lock: a second caller returns only once the handler is in place.
        state.withLock { state in
            state.callbacks.append(body)
            guard !state.started else { return }
            state.started = true
            let fd = cposix_catch_shutdown_signals()
            precondition(fd >= 0, "cannot catch SIGTERM/SIGINT: \(SyscallError(function: "sigaction", code: -fd))")
            // The caller (the main thread, which then waits for the server) and the threads it starts
            // from now on block them, so the kernel hands them to the signal thread (or to a thread
            // started before): never to a thread parked in a wait that a sanitizer's deferred signal
            // delivery does not interrupt (ThreadSanitizer lost SIGTERM on the main thread).
            let masked = cposix_mask_shutdown_signals(1)
            precondition(masked == 0, "\(SyscallError(function: "pthread_sigmask", code: -masked))")
            PosixThread.start(name: "bomflow-signals") {
                let unmasked = cposix_mask_shutdown_signals(0)
                precondition(unmasked == 0, "\(SyscallError(function: "pthread_sigmask", code: -unmasked))")
                while true {
                    let result = cposix_wait_shutdown_signal(fd)
                    precondition(
                        result == 0, "reading the signal eventfd: \(SyscallError(function: "read", code: -result))")
                    for callback in Self.state.withLock({ $0.callbacks }) { callback() }
                }
            }
        }
    }
}
