#if canImport(Glibc)
import Glibc
#endif
import CEpoll
import Dispatch
import Foundation
import OrchLogWire

/// Something registered with an event loop that is told when its socket is ready.
protocol ReadinessHandler: AnyObject {
    func socketReady(_ readiness: Readiness)
}

/// One serial Dispatch queue and every socket that lives on it.
///
/// The loop's sockets share one readiness set (epoll). A thread of the loop's own waits on that
/// set and serves what is ready with `queue.sync`, which runs on that same thread whenever the
/// queue is free: a ready socket is read by the thread the kernel woke. (A Dispatch read source
/// would wake Dispatch's manager thread, which then wakes a worker: two thread hand-offs per
/// event, which doubled a lockstep call's latency here; docs/PERFORMANCE.md.) One wakeup serves
/// every socket that is ready.
///
/// Work from other threads (store completions, change-feed wakeups) arrives with `execute` and is
/// run by the same waiting thread: the first task handed over writes the loop's eventfd, and the
/// tasks handed over until the thread takes them run together in one turn. (Run with
/// `queue.async`, they woke a Dispatch worker as well: a second thread serving the loop, which
/// then contended with the waiting thread for the queue.) A thread that hands over a burst (the
/// store's writer with a commit's replies) uses `handOver` and wakes the loop once at its end
/// with `wake`, so that the loop does not start on the first task and compete with the sender
/// for the rest. Timers and `queue.async` blocks are Dispatch's as usual. Output that a turn
/// produces is written once at its end, one write per connection.
///
/// Sockets, and the state of everything that lives on the loop, are used on `queue` only.
// @unchecked: every mutable property is confined to `queue`.
package final class EventLoop: Wakeable, @unchecked Sendable {
    /// The serial queue that owns the loop's sockets and everything attached to them.
    package let queue: DispatchQueue
    private let readiness: ReadinessSet
    /// Signalled when tasks arrive in an empty mailbox, and when the loop goes away, so that the
    /// waiting thread wakes up.
    private let wakeup: Wakeup
    private var sockets: [UInt64: any ReadinessHandler] = [:]
    /// 0 is the wakeup descriptor's.
    private var nextToken: UInt64 = 1
    private let mailbox = BatchingQueue<@Sendable () -> Void>()
    /// Set while a turn runs: connections that send then flush at its end.
    private var inTurn = false
    private var pendingFlushes: [Connection] = []

    /// - Throws: `SocketError` when the process cannot create another epoll instance or eventfd.
    package init(label: String) throws(SocketError) {
        let readiness = try ReadinessSet()
        let wakeup: Wakeup
        do throws(SocketError) {
            wakeup = try Wakeup()
            try readiness.add(wakeup.fd, token: 0, interest: .readable)
        } catch {
            readiness.close()
            throw error
        }
        self.queue = DispatchQueue(label: label)
        self.readiness = readiness
        self.wakeup = wakeup
        // The waiting thread blocks every signal from its first instruction (a thread starts with
        // its creator's mask): signals go to the threads that expect them (orchlogd takes SIGTERM
        // through a Dispatch source), never to a thread parked in epoll_wait. Dispatch's own
        // threads block them the same way.
        var all = sigset_t()
        var creators = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, &creators)
        Thread.detachNewThread { [weak self] in
            // Named after the queue, for debuggers and /proc (Linux keeps 15 bytes). Named
            // directly: Foundation's `Thread.current.name` did not always reach the kernel here
            // (under ThreadSanitizer the thread then kept its creator's name).
            _ = pthread_setname_np(pthread_self(), String(label.utf8.prefix(15)) ?? "orchlog.loop")
            Self.waitAndServe(readiness, wakeup: wakeup, loop: { self })
        }
        pthread_sigmask(SIG_SETMASK, &creators, nil)
    }

    deinit {
        self.wakeup.signal()
    }

    /// Wakes the loop's thread to run the tasks handed over.
    package func wake() {
        self.wakeup.signal()
    }

    /// Runs `task` on the loop's queue, in one turn with whatever else was handed over meanwhile.
    package func execute(_ task: @escaping @Sendable () -> Void) {
        if self.handOver(task) { self.wake() }
    }

    /// Queues `task` like `execute`, but leaves the wake-up to the caller: `true` when the loop
    /// must be woken (`wake()`) for it to run, which the caller may do after handing over more.
    package func handOver(_ task: @escaping @Sendable () -> Void) -> Bool {
        self.mailbox.add(task)
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

    /// Writes `connection`'s output at the end of the current turn; outside a turn (a timer, a
    /// plain `queue.async` block), at the end of a turn of its own.
    func flushAtEndOfTurn(_ connection: Connection) {
        self.pendingFlushes.append(connection)
        if !self.inTurn && self.pendingFlushes.count == 1 {
            self.queue.async { self.runTurn {} }
        }
    }

    // MARK: - Turns

    /// The waiting thread: wait for ready sockets and handed-over tasks, serve them on the queue,
    /// until the loop is gone. It holds the loop only while serving, so the loop's owners decide
    /// when it goes away.
    private static func waitAndServe(_ readiness: ReadinessSet, wakeup: Wakeup, loop: () -> EventLoop?) {
        // After a turn of tasks, the mailbox stays marked as being consumed (more may have come
        // meanwhile): the next wait only polls, and the tasks run after the sockets ready by then.
        var tasksMayWait = false
        // The wakeup is closed only when the loop's deinit is done with it too (`Wakeup`).
        withExtendedLifetime(wakeup) {
            // The set fails only if its descriptor is bad, which nothing but this thread closes.
            while let ready = readiness.wait(timeoutMillis: tasksMayWait ? 0 : -1) {
                guard let loop = loop() else { break }
                if ready > 0 || tasksMayWait {
                    tasksMayWait = loop.queue.sync { loop.serve(ready, runTasks: tasksMayWait) }
                }
            }
        }
        readiness.close()
    }

    /// Serves the ready sockets, then the mailbox if it is due; returns whether tasks ran.
    private func serve(_ count: Int, runTasks: Bool) -> Bool {
        var runTasks = runTasks
        self.readiness.forEachReady(count) { token, readiness in
            if token == 0 {
                // Reset before the mailbox is taken: the next task to find it stopped writes it again.
                self.wakeup.reset()
                runTasks = true
                return
            }
            // A socket closed earlier in this batch has no owner any more.
            guard let socket = self.sockets[token] else { return }
            self.runTurn { socket.socketReady(readiness) }
        }
        guard runTasks else { return false }
        let tasks = self.mailbox.takeAll()
        if tasks.isEmpty { return false }
        self.runTurn {
            for task in tasks { task() }
        }
        return true
    }

    private func runTurn(_ body: () -> Void) {
        self.inTurn = true
        body()
        // A flush may close its connection, or make it writable again, and what its handler then
        // sends is queued behind: the same loop writes it. Indexing, not iterating a copy,
        // keeps the array's storage for the next turn.
        var index = 0
        while index < self.pendingFlushes.count {
            let connection = self.pendingFlushes[index]
            index += 1
            connection.flushScheduledOutput()
        }
        self.pendingFlushes.removeAll(keepingCapacity: true)
        self.inTurn = false
    }
}
