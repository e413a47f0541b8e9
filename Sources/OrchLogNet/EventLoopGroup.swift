import OrchLogWire

/// A fixed set of event loops, about one per core. Each connection lives on one of them for its
/// whole life, so its state needs no locks.
package final class EventLoopGroup: Sendable {
    package let loops: [EventLoop]
    private let counter = Counter()

    /// - Parameter count: how many loops; at least one.
    /// - Throws: `SocketError` when the process cannot create the loops' epoll instances.
    package init(count: Int, label: String = "orchlog.net") throws(SocketError) {
        var loops: [EventLoop] = []
        for index in 0..<max(1, count) {
            loops.append(try EventLoop(label: "\(label).\(index)"))
        }
        self.loops = loops
    }

    /// The next loop, round-robin.
    package func next() -> EventLoop {
        self.loops[self.counter.next() % self.loops.count]
    }
}
