import HTTP1
import Testing

@testable import HTTPServer

/// The event loop's descriptor-indexed table of connections.
struct ConnectionTableTests {
    func connection(_ fd: Int32) -> Connection {
        Connection(
            id: ConnectionID(fd: fd, generation: UInt64(fd)), remoteAddress: nil, limits: HTTPLimits(), now: .zero)
    }

    @Test func findsWhatWasStoredAndForgetsWhatWasRemoved() {
        var table = ConnectionTable()
        #expect(table.isEmpty)
        #expect(table[5] == nil)
        #expect(table[-1] == nil)
        let descriptors: [Int32] = [7, 3, 1000, 4, 64]
        for fd in descriptors { table[fd] = connection(fd) }
        #expect(table.count == 5)
        for fd in descriptors { #expect(table[fd]?.id.fd == fd) }
        #expect(table[5] == nil && table[999] == nil && table[1001] == nil)
        #expect(table.all().map(\.id.fd) == [3, 4, 7, 64, 1000], "in descriptor order")

        table[3] = connection(3)
        #expect(table.count == 5, "replacing is no new connection")
        table[1000] = nil
        table[1000] = nil
        table[2000] = nil
        table[-1] = connection(1)
        #expect(table.count == 4, "removing twice or what is not there changes nothing")
        #expect(table[1000] == nil)
        for fd: Int32 in [3, 4, 7, 64] { table[fd] = nil }
        #expect(table.isEmpty && table.all().isEmpty)
    }
}
