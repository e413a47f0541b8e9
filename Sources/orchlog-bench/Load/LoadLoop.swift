#if canImport(Glibc)
import Glibc
#endif
import OrchLogWire

/// Drives a set of client connections from one thread with poll(2): reads every ready socket
/// and hands each frame to the scenario, then flushes every connection that has bytes to send,
/// so a turn with many pipelined calls costs one write per connection (as the server does).
///
/// One mechanism for every scenario: lockstep calls, pipelined calls, followers and paced
/// appends differ only in what they do in `onFrame` and `onTurn`.
///
/// poll(2), not the server's epoll `ReadinessSet`: measured both ways (seventh stop, alternating
/// runs), epoll left the appends' throughput where it was and made follow's p99 worse (1.1–1.4
/// ms against 0.7–0.9 ms). The likely cause: a loop that wakes at the first ready socket
/// wakes more often, and on these 2 cores each wakeup can preempt the server in the middle of
/// its burst of sends to the other followers.
final class LoadLoop {
    let connections: [LoadConnection]
    private var descriptors: [pollfd]

    init(connections: [LoadConnection]) {
        self.connections = connections
        self.descriptors = connections.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
    }

    /// Runs turns until `isDone` says so.
    ///
    /// - Parameters:
    ///   - waitMillis: the longest a turn waits for input; paced scenarios pass a small value so
    ///     `onTurn` runs on time.
    ///   - onFrame: called for every frame received, with the time its bytes were read.
    ///   - onTurn: called once per turn (after reading) with the current time.
    func run(
        waitMillis: Int32 = 100,
        onFrame: (LoadConnection, RawFrame, UInt64) throws -> Void,
        onTurn: (UInt64) throws -> Void = { _ in },
        isDone: () -> Bool
    ) throws {
        try self.flushAll()
        while !isDone() {
            let ready = poll(&self.descriptors, nfds_t(self.descriptors.count), waitMillis)
            if ready < 0 {
                if errno == EINTR { continue }
                throw BenchError("poll failed: errno \(errno)")
            }
            if ready > 0 {
                let now = MonotonicClock.now()
                for slot in self.descriptors.indices where self.descriptors[slot].revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 {
                    let connection = self.connections[slot]
                    guard try connection.receive({ try onFrame(connection, $0, now) }) else {
                        throw BenchError("the server closed connection \(connection.index)")
                    }
                }
            }
            try onTurn(MonotonicClock.now())
            try self.flushAll()
        }
    }

    /// Writes every connection's queued bytes; a socket that is full is polled for POLLOUT.
    private func flushAll() throws {
        for (slot, connection) in self.connections.enumerated() where connection.wantsFlush {
            guard try connection.flush() else { throw BenchError("the server closed connection \(connection.index)") }
            self.descriptors[slot].events = Int16(POLLIN) | (connection.wantsFlush ? Int16(POLLOUT) : 0)
        }
    }
}
