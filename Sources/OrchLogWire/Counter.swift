import Synchronization

/// A thread-safe increasing counter (round-robin choices, ids).
package final class Counter: Sendable {
    private let value = Atomic<Int>(0)

    package init() {}

    /// The current value, then increments it.
    package func next() -> Int {
        self.value.wrappingAdd(1, ordering: .relaxed).oldValue & Int.max
    }
}
