#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import Logging
import OrchLogNet
import OrchLogWire
import Testing

/// The event loop: many sockets served from one readiness set, events for a socket closed in the
/// same batch dropped, and tasks from other threads run in order with their output delivered.
@Suite("Event loop")
struct EventLoopTests {
    @Test("one loop serves every ready socket, and each peer gets its own replies")
    func servesManySockets() throws {
        let loop = try EventLoop(label: "test.loop")
        let pairs = try (0..<40).map { _ in try SocketPair() }
        let handlers = pairs.map { _ in EchoHandler() }
        loop.queue.sync {
            for (pair, handler) in zip(pairs, handlers) {
                let connection = Connection(fd: pair.served, loop: loop, options: ConnectionOptions())
                handler.connection = connection
                connection.start(handler: handler)
            }
        }
        for round in 0..<3 {
            for (index, pair) in pairs.enumerated() { try pair.writeFrame(Array("\(index).\(round)".utf8)) }
            for (index, pair) in pairs.enumerated() {
                #expect(try pair.readFrame() == Array("\(index).\(round)".utf8))
            }
        }
        loop.queue.sync { for handler in handlers { handler.connection?.close(reason: "test over") } }
        for pair in pairs { #expect(try pair.readToEnd().isEmpty) }
    }

    @Test("a socket closed by an earlier event of the same batch gets nothing more")
    func closedInSameBatch() throws {
        let loop = try EventLoop(label: "test.loop")
        let first = try SocketPair()
        let second = try SocketPair()
        let handlers = [CloseOtherHandler(), CloseOtherHandler()]
        loop.queue.sync {
            let connections = [first, second].map { Connection(fd: $0.served, loop: loop, options: ConnectionOptions()) }
            handlers[0].other = connections[1]
            handlers[1].other = connections[0]
            for (connection, handler) in zip(connections, handlers) { connection.start(handler: handler) }
        }
        // Both sockets turn ready while the loop is busy, so one poll reports both.
        let busy = DispatchSemaphore(value: 0)
        loop.queue.async { busy.wait() }
        try first.writeFrame([1])
        try second.writeFrame([2])
        usleep(50_000)
        busy.signal()
        loop.queue.sync {}
        usleep(50_000)
        loop.queue.sync {
            // Whichever was served first closed the other before its event was handled.
            #expect(handlers.map(\.received).reduce(0, +) == 1)
            #expect(handlers.filter(\.closed).count == 1)
        }
        let peers = handlers[0].received == 1 ? (served: first, closed: second) : (served: second, closed: first)
        #expect(try peers.closed.readToEnd().isEmpty)
        loop.queue.sync { handlers.forEach { $0.other?.close(reason: "test over"); $0.other = nil } }
        #expect(try peers.served.readToEnd().isEmpty)
    }

    @Test("tasks handed to execute from other threads run on the loop's queue in order, and what they send arrives")
    func executeRunsInOrder() throws {
        let loop = try EventLoop(label: "test.loop")
        let pair = try SocketPair()
        let handler = EchoHandler()
        let connection = Connection(fd: pair.served, loop: loop, options: ConnectionOptions())
        loop.queue.sync {
            handler.connection = connection
            connection.start(handler: handler)
        }
        let count = 2_000
        let order = Locked<[Int]>([])
        DispatchQueue.global().async {
            for index in 0..<count {
                loop.execute {
                    dispatchPrecondition(condition: .onQueue(loop.queue))
                    order.withLock { $0.append(index) }
                    connection.send(encodingWith: { SocketPair.appendFrame(Array("task \(index)".utf8), to: &$0) })
                }
            }
        }
        for index in 0..<count {
            #expect(try pair.readFrame() == Array("task \(index)".utf8))
        }
        #expect(order.withLock { $0 } == Array(0..<count))
        loop.queue.sync { connection.close(reason: "test over") }
    }
}

extension EventLoopTests {
    @Test("tasks handed over run once the loop is woken, in one turn; only the first hand-off asks for the wake-up")
    func handOverWaitsForWake() throws {
        let loop = try EventLoop(label: "test.loop")
        let ran = Locked<[Int]>([])
        let allRan = DispatchSemaphore(value: 0)
        var mustWake: [Bool] = []
        for index in 0..<5 {
            mustWake.append(loop.handOver {
                dispatchPrecondition(condition: .onQueue(loop.queue))
                ran.withLock { $0.append(index) }
                if index == 4 { allRan.signal() }
            })
        }
        #expect(mustWake == [true, false, false, false, false])
        // Nothing else wakes an idle loop: the tasks wait for `wake`.
        #expect(allRan.wait(timeout: .now() + .milliseconds(100)) == .timedOut)
        #expect(ran.withLock { $0 }.isEmpty)
        loop.wake()
        #expect(allRan.wait(timeout: .now() + .seconds(10)) == .success)
        #expect(ran.withLock { $0 } == [0, 1, 2, 3, 4])
    }

    @Test("connect completes on the loop's queue: a listener yields a connected socket, a closed port ECONNREFUSED")
    func connectOnTheLoop() throws {
        let loop = try EventLoop(label: "test.loop")
        let address = try SocketAddress(host: "127.0.0.1", port: 0)
        let (listener, port) = try Socket.listen(on: address)
        defer { close(listener) }
        let target = try SocketAddress(host: "127.0.0.1", port: port)

        let connected = self.connect(loop, to: target)
        let fd = try connected.get()
        defer { close(fd) }
        var peer = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        #expect(named == 0)
        #expect(fcntl(fd, F_GETFL) & O_NONBLOCK != 0)

        // Nothing listens on the port once the listener is closed.
        let (closedListener, closedPort) = try Socket.listen(on: address)
        close(closedListener)
        let refused = self.connect(loop, to: try SocketAddress(host: "127.0.0.1", port: closedPort))
        #expect(throws: SocketError.self) { try refused.get() }
        if case .failure(let error) = refused { #expect(error.errno == ECONNREFUSED) }
    }

    @Test("a connect that gets no answer fails with ETIMEDOUT at its timeout")
    func connectTimesOut() throws {
        let loop = try EventLoop(label: "test.loop")
        // A listener that never accepts, its queue filled: Linux then drops further SYNs, so a
        // new connect stays in progress.
        let (listener, port) = try Socket.listen(on: try SocketAddress(host: "127.0.0.1", port: 0), backlog: 0)
        defer { close(listener) }
        let target = try SocketAddress(host: "127.0.0.1", port: port)
        var fillers: [Int32] = []
        defer { fillers.forEach { close($0) } }
        for _ in 0..<4 {
            if let fd = try? Socket.connect(to: target, timeoutMillis: 100) { fillers.append(fd) }
        }
        let started = ContinuousClock.now
        let outcome = self.connect(loop, to: target, timeoutMillis: 300)
        let waited = ContinuousClock.now - started
        guard case .failure(let error) = outcome else {
            Issue.record("connected to a listener whose queue is full")
            return
        }
        #expect(error.errno == ETIMEDOUT)
        #expect(waited >= .milliseconds(250) && waited < .seconds(3))
    }

    @Test("a loop's waiting thread ends once the loop is gone")
    func waitingThreadEnds() throws {
        let label = "gone-\(getpid() % 10_000)"
        var loop: EventLoop? = try EventLoop(label: label)
        // The thread names itself once it runs.
        var deadline = Date().addingTimeInterval(5)
        while !Self.threadNames().contains(label) && Date() < deadline { usleep(10_000) }
        #expect(Self.threadNames().contains(label))
        loop?.queue.sync {}
        loop = nil
        deadline = Date().addingTimeInterval(5)
        while Self.threadNames().contains(label) && Date() < deadline { usleep(10_000) }
        #expect(!Self.threadNames().contains(label))
    }

    @Test("a loop's waiting thread blocks signals, so that a process signal reaches the threads that take it")
    func waitingThreadBlocksSignals() throws {
        let label = "sig-\(getpid() % 10_000)"
        // Made on a thread that takes every signal, as orchlogd's main thread does: a new thread
        // starts with its creator's mask.
        let made = Locked<EventLoop?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var none = sigset_t()
            sigemptyset(&none)
            pthread_sigmask(SIG_SETMASK, &none, nil)
            made.withLock { $0 = try? EventLoop(label: label) }
            done.signal()
        }
        done.wait()
        let loop = try #require(made.withLock { $0 })
        let deadline = Date().addingTimeInterval(5)
        while Self.threadStatus(named: label) == nil && Date() < deadline { usleep(10_000) }
        let status = try #require(Self.threadStatus(named: label))
        let blocked = try #require(status.split(separator: "\n").first { $0.hasPrefix("SigBlk:") })
        let mask = try #require(UInt64(blocked.dropFirst("SigBlk:".count).trimmingCharacters(in: .whitespaces), radix: 16))
        for signal in [SIGTERM, SIGINT, SIGHUP] {
            #expect(mask & (1 << UInt64(signal - 1)) != 0, "signal \(signal) is not blocked")
        }
        loop.queue.sync {}
    }

    /// The names of this process's threads.
    private static func threadNames() -> [String] {
        Self.threads().map(\.name)
    }

    /// `/proc/self/task/TID/status` of the thread called `name`.
    private static func threadStatus(named name: String) -> String? {
        guard let thread = Self.threads().first(where: { $0.name == name }) else { return nil }
        return try? String(contentsOfFile: "/proc/self/task/\(thread.tid)/status", encoding: .utf8)
    }

    private static func threads() -> [(tid: String, name: String)] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { tid in
            guard let comm = try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8) else { return nil }
            return (tid, comm.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    private func connect(_ loop: EventLoop, to address: SocketAddress, timeoutMillis: Int = 5_000) -> Result<Int32, SocketError> {
        let outcome = Locked<Result<Int32, SocketError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        loop.connect(to: address, timeoutMillis: timeoutMillis) { result in
            dispatchPrecondition(condition: .onQueue(loop.queue))
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return outcome.withLock { $0! }
    }
}

/// Sends back every frame it receives.
private final class EchoHandler: ConnectionHandler, @unchecked Sendable {
    var connection: Connection?

    func connection(_ connection: Connection, didReceive payload: ArraySlice<UInt8>) throws(FrameDecodingError) {
        connection.send(encodingWith: { SocketPair.appendFrame(Array(payload), to: &$0) })
    }
    func connection(_ connection: Connection, didFailDecoding error: FrameDecodingError) {}
    func connection(_ connection: Connection, writabilityChanged isWritable: Bool) {}
    func connectionDidClose(_ connection: Connection, reason: String) {}
}

/// Closes the other connection of the pair when a frame arrives.
private final class CloseOtherHandler: ConnectionHandler, @unchecked Sendable {
    var other: Connection?
    var received = 0
    var closed = false

    func connection(_ connection: Connection, didReceive payload: ArraySlice<UInt8>) throws(FrameDecodingError) {
        self.received += 1
        self.other?.close(reason: "closed by the other")
    }
    func connection(_ connection: Connection, didFailDecoding error: FrameDecodingError) {}
    func connection(_ connection: Connection, writabilityChanged isWritable: Bool) {}
    func connectionDidClose(_ connection: Connection, reason: String) { self.closed = true }
}

/// A connected pair of stream sockets: `served` (non-blocking) goes to a `Connection`, `peer`
/// (blocking, with a receive timeout) is the test's end.
private final class SocketPair {
    let served: Int32
    let peer: Int32

    init() throws {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw POSIXError(.EMFILE)
        }
        self.served = fds[0]
        self.peer = fds[1]
        _ = fcntl(self.served, F_SETFL, fcntl(self.served, F_GETFL) | O_NONBLOCK)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(self.peer, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(self.peer) }

    static func appendFrame(_ payload: [UInt8], to buffer: inout [UInt8]) {
        let length = UInt32(payload.count)
        buffer.append(contentsOf: [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)])
        buffer.append(contentsOf: payload)
    }

    func writeFrame(_ payload: [UInt8]) throws {
        var bytes: [UInt8] = []
        Self.appendFrame(payload, to: &bytes)
        guard send(self.peer, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw POSIXError(.EPIPE) }
    }

    func readFrame() throws -> [UInt8] {
        let header = try self.readExactly(4)
        let length = header.reduce(0) { $0 << 8 | Int($1) }
        return try self.readExactly(length)
    }

    /// Everything until the other side closes (a close that discarded unread input resets).
    func readToEnd() throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(self.peer, &chunk, chunk.count)
            if n == 0 || (n < 0 && errno == ECONNRESET) { return bytes }
            guard n > 0 else { throw POSIXError(.ETIMEDOUT) }
            bytes += chunk[0..<n]
        }
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = bytes.withUnsafeMutableBytes { read(self.peer, $0.baseAddress! + filled, count - filled) }
            guard n > 0 else { throw POSIXError(.ETIMEDOUT) }
            filled += n
        }
        return bytes
    }
}

@Suite("Listener")
struct ListenerTests {
    @Test("stop closes the listening socket, whether or not the listener was started")
    func stopCloses() throws {
        for starts in [false, true] {
            let listener = try Listener(
                address: try SocketAddress(host: "127.0.0.1", port: 0), logger: Logger(label: "test.listener")
            )
            if starts { try listener.start { close($0) } }
            #expect(throws: Never.self) { close(try Socket.connect(to: listener.address, timeoutMillis: 1_000)) }
            listener.stop()
            #expect(throws: SocketError.self, "a connect after stop (started: \(starts)) must be refused") {
                close(try Socket.connect(to: listener.address, timeoutMillis: 1_000))
            }
        }
    }
}
