/// A consumer that work can be handed to without waking it at once: whoever hands over a burst
/// wakes it once, after the last item. The writer announcing a commit hands one reply per
/// append to the event loops; waking a loop on the first reply made it compete with the writer
/// for the rest (docs/PERFORMANCE.md, twelfth stop).
package protocol Wakeable: AnyObject, Sendable {
    /// Makes the consumer take what was handed to it.
    func wake()
}

/// The consumers a burst of hand-offs must wake, each once, when the burst is over.
package struct PendingWakeups {
    private var targets: [any Wakeable] = []

    package init() {}

    /// Notes `target`, if any, to be woken by `wakeAll`.
    package mutating func add(_ target: (any Wakeable)?) {
        guard let target, !self.targets.contains(where: { $0 === target }) else { return }
        self.targets.append(target)
    }

    /// Wakes every consumer noted since the last call, once each.
    package mutating func wakeAll() {
        for target in self.targets { target.wake() }
        self.targets.removeAll(keepingCapacity: true)
    }
}
