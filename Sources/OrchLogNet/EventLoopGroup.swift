import Dispatch
import OrchLogWire

/// A fixed set of serial queues, about one per core. Each connection lives on one of them for its
/// whole life, so its state needs no locks.
package final class EventLoopGroup: Sendable {
    package let queues: [DispatchQueue]
    private let counter = Counter()

    /// - Parameter count: how many serial queues; at least one.
    package init(count: Int, label: String = "orchlog.net") {
        let n = max(1, count)
        self.queues = (0..<n).map { DispatchQueue(label: "\(label).\($0)") }
    }

    /// The next queue, round-robin.
    package func next() -> DispatchQueue {
        self.queues[self.counter.next() % self.queues.count]
    }
}
