import Dispatch

/// The deadlines of one connection's calls, served by one timer on the connection's queue that
/// is armed for the earliest deadline it has been told of. The server and the client use it alike.
///
/// Not a work item per call (`asyncAfter`): libdispatch keeps a cancelled one, and everything
/// its closure holds, until its time comes, and a deadline may be 49 days away. Here a call
/// that ends costs nothing; the timer may fire for it anyway, and `expire` then finds nothing
/// to end and names the next deadline.
// @unchecked: confined to the connection's queue.
public final class CallDeadlines: @unchecked Sendable {
    private let queue: DispatchQueue
    /// Ends the calls whose deadline is at or before the time given, and returns the earliest
    /// deadline of the calls still open, if any.
    private let expire: (DispatchTime) -> DispatchTime?
    private var timer: (any DispatchSourceTimer)?
    private var armedFor: DispatchTime?

    /// `expire` runs on `queue`; it ends the calls due at the time it is given and returns the
    /// earliest deadline of those still open.
    public init(queue: DispatchQueue, expire: @escaping (DispatchTime) -> DispatchTime?) {
        self.queue = queue
        self.expire = expire
    }

    /// A call with this deadline has started.
    public func add(_ deadline: DispatchTime) {
        if let armedFor, armedFor <= deadline { return }
        self.arm(for: deadline)
    }

    /// Stops the timer (the connection closed).
    public func cancel() {
        self.timer?.cancel()
        self.timer = nil
        self.armedFor = nil
    }

    private func arm(for deadline: DispatchTime) {
        let timer = self.timer ?? self.makeTimer()
        timer.schedule(deadline: deadline, leeway: .milliseconds(1))
        self.armedFor = deadline
    }

    private func makeTimer() -> any DispatchSourceTimer {
        let timer = DispatchSource.makeTimerSource(queue: self.queue)
        timer.setEventHandler { [weak self] in self?.fire() }
        timer.resume()
        self.timer = timer
        return timer
    }

    /// The calls among `calls` whose deadline is `now` or earlier, and the earliest deadline of
    /// the others: what an `expire` closure ends and returns.
    public static func due<Call>(
        _ calls: some Sequence<Call>, at now: DispatchTime, deadline: (Call) -> DispatchTime?
    ) -> (due: [Call], next: DispatchTime?) {
        var due: [Call] = []
        var next: DispatchTime?
        for call in calls {
            guard let at = deadline(call) else { continue }
            if at <= now {
                due.append(call)
            } else if next.map({ at < $0 }) ?? true {
                next = at
            }
        }
        return (due, next)
    }

    private func fire() {
        self.armedFor = nil
        if let next = self.expire(.now()) { self.arm(for: next) }
    }
}
