import Dispatch
import OrchLogWire

/// Something registered with an event loop that is told when its socket is ready.
protocol ReadinessHandler: AnyObject {
    func socketReady(_ readiness: Readiness)
}

/// One serial queue and every socket that lives on it.
///
/// The loop's sockets share one readiness set (epoll), and a single Dispatch read source watches
/// that set. One wakeup of the queue serves every socket that is ready, where one Dispatch source
/// per socket costs a thread hand-off, a re-arm and a buffer-size query per socket event.
///
/// Work from other threads (store completions, change-feed wakeups) arrives with `execute`;
/// tasks handed over while the queue is busy run together in one turn. Output that a turn
/// produces is written once at its end, one write per connection.
///
/// Sockets, and the state of everything that lives on the loop, are used on `queue` only.
// @unchecked: every mutable property is confined to `queue`.
package final class EventLoop: @unchecked Sendable {
    /// The serial queue that owns the loop's sockets and everything attached to them.
    package let queue: DispatchQueue
    private let readiness: ReadinessSet
    private let source: any DispatchSourceRead
    private var sockets: [UInt64: any ReadinessHandler] = [:]
    private var nextToken: UInt64 = 1
    private let mailbox = BatchingQueue<@Sendable () -> Void>()
    /// Set while a turn runs: connections that send then flush at its end instead of from a
    /// queue turn of their own.
    private var inTurn = false
    private var pendingFlushes: [Connection] = []

    /// Readiness polls per wakeup while sockets keep turning ready: under load the next poll
    /// finds more work without a trip through Dispatch; the bound lets queued tasks run.
    private static let pollsPerWakeup = 8

    /// - Throws: `SocketError` when the process cannot create another epoll instance.
    package init(label: String) throws(SocketError) {
        let readiness = try ReadinessSet()
        let queue = DispatchQueue(label: label)
        self.queue = queue
        self.readiness = readiness
        self.source = DispatchSource.makeReadSource(fileDescriptor: readiness.fd, queue: queue)
        // The set is closed only once Dispatch has stopped watching its descriptor.
        self.source.setCancelHandler { readiness.close() }
        self.source.setEventHandler { [weak self] in self?.serveReadySockets() }
        self.source.resume()
    }

    deinit {
        self.source.cancel()
    }

    /// Runs `task` on the loop's queue, in one turn with whatever else was handed over meanwhile.
    package func execute(_ task: @escaping @Sendable () -> Void) {
        if self.mailbox.add(task) {
            self.queue.async { self.runMailbox() }
        }
    }

    // MARK: - Sockets (on `queue`)

    /// Starts watching `fd` for `handler`; returns the token that later calls name it by.
    func register(_ fd: Int32, interest: Interest, handler: any ReadinessHandler) throws(SocketError) -> UInt64 {
        let token = self.nextToken
        try self.readiness.add(fd, token: token, interest: interest)
        self.nextToken += 1
        self.sockets[token] = handler
        return token
    }

    func setInterest(_ interest: Interest, of fd: Int32, token: UInt64) throws(SocketError) {
        try self.readiness.modify(fd, token: token, interest: interest)
    }

    /// Stops watching `fd`; events already taken for it are dropped. Call before closing `fd`.
    func deregister(_ fd: Int32, token: UInt64) {
        guard self.sockets.removeValue(forKey: token) != nil else { return }
        self.readiness.remove(fd)
    }

    /// Whether output queued now is flushed at the end of the current turn.
    var flushesAtEndOfTurn: Bool { self.inTurn }

    /// Writes `connection`'s output at the end of the current turn.
    func flushAtEndOfTurn(_ connection: Connection) {
        self.pendingFlushes.append(connection)
    }

    // MARK: - Turns

    private func serveReadySockets() {
        for _ in 0..<Self.pollsPerWakeup {
            let ready = self.readiness.poll { token, readiness in
                // A socket closed earlier in this batch has no owner any more.
                guard let socket = self.sockets[token] else { return }
                self.runTurn { socket.socketReady(readiness) }
            }
            if ready == 0 { return }
        }
    }

    private func runMailbox() {
        let tasks = self.mailbox.takeAll()
        if tasks.isEmpty { return }
        self.runTurn {
            for task in tasks { task() }
        }
        // Whatever arrived meanwhile runs in a later turn, after the sockets' events queued now.
        self.queue.async { self.runMailbox() }
    }

    private func runTurn(_ body: () -> Void) {
        self.inTurn = true
        body()
        self.inTurn = false
        // A flush may close its connection, whose handler may send on another connection of
        // this loop: that one is flushed from a queue turn of its own.
        let flushes = self.pendingFlushes
        self.pendingFlushes.removeAll(keepingCapacity: true)
        for connection in flushes { connection.flushScheduledOutput() }
    }
}
