import Dispatch
import Logging
import OrchLogNet
import OrchLogStore
import OrchLogWire
import Synchronization

/// The orchlog server: a listener, the event loops its connections run on, and the store.
///
/// `start()` binds and serves; `shutdown(completion:)` drains (goaway, running unary calls finish,
/// follow streams end with UNAVAILABLE), closes what is left after the grace period, closes the
/// store and calls back.
package final class OrchLogServer: Sendable {
    package let configuration: ServerConfiguration
    package let store: LogStore
    private let group: EventLoopGroup
    private let logger: Logger
    private let state = Locked(State())

    private struct State {
        var listener: Listener?
        var connections: [Int: ServerConnection] = [:]
        var draining = false
        var onDrained: (@Sendable () -> Void)?
    }

    /// - Throws: `SocketError` when the event loops' epoll instances cannot be created.
    package init(configuration: ServerConfiguration, store: LogStore, logger: Logger) throws {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        self.group = try EventLoopGroup(count: configuration.eventLoops)
    }

    /// Binds the listening socket and starts accepting; returns the address with the real port.
    @discardableResult
    package func start() throws -> SocketAddress {
        let listener = try Listener(address: self.configuration.listen, logger: self.logger)
        self.state.withLock { $0.listener = listener }
        try listener.start { fd in self.accept(fd) }
        return listener.address
    }

    /// Connections open now.
    package var connectionCount: Int { self.state.withLock { $0.connections.count } }

    private func accept(_ fd: Int32) {
        var options = ConnectionOptions()
        options.maxFrameBytes = self.configuration.maxFrameBytes
        options.highWatermark = self.configuration.highWatermark
        options.lowWatermark = self.configuration.lowWatermark
        let connection = Connection(fd: fd, loop: self.group.next(), options: options)
        let server = ServerConnection(
            connection: connection, store: self.store, configuration: self.configuration, logger: self.logger
        ) { [weak self] closed in self?.connectionClosed(closed) }

        let refusal = self.state.withLock { state -> RPCStatus? in
            if state.draining { return .unavailable("server is shutting down") }
            if state.connections.count >= self.configuration.maxConnections {
                return RPCStatus(.resourceExhausted, "too many connections (limit \(self.configuration.maxConnections))")
            }
            state.connections[server.id] = server
            return nil
        }
        connection.queue.async {
            if let refusal {
                server.refuse(refusal)
            } else {
                server.start()
            }
        }
    }

    private func connectionClosed(_ connection: ServerConnection) {
        let onDrained = self.state.withLock { state -> (@Sendable () -> Void)? in
            state.connections[connection.id] = nil
            guard state.draining, state.connections.isEmpty else { return nil }
            defer { state.onDrained = nil }
            return state.onDrained
        }
        onDrained?()
    }

    /// Stops accepting, drains every connection, force-closes what is still open after
    /// `drainGraceMillis`, closes the store, then calls `completion` (once).
    package func shutdown(completion: @escaping @Sendable () -> Void) {
        let finished = Atomic<Bool>(false)
        let finishOnce: @Sendable () -> Void = { [store = self.store] in
            guard !finished.exchange(true, ordering: .acquiringAndReleasing) else { return }
            store.close()
            completion()
        }
        let (listener, connections) = self.state.withLock { state in
            state.draining = true
            state.onDrained = finishOnce
            defer { state.listener = nil }
            return (state.listener, Array(state.connections.values))
        }
        listener?.stop()
        self.logger.info("draining", metadata: ["connections": "\(connections.count)"])
        if connections.isEmpty {
            finishOnce()
            return
        }
        for connection in connections {
            connection.queue.async { connection.beginDrain() }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(self.configuration.drainGraceMillis)) {
            let remaining = self.state.withLock { Array($0.connections.values) }
            if !remaining.isEmpty {
                self.logger.warning("drain grace period over: closing connections whose calls are still running; those calls get no answer", metadata: [
                    "connections": "\(remaining.count)", "grace_ms": "\(self.configuration.drainGraceMillis)",
                ])
            }
            for connection in remaining {
                connection.queue.async { connection.forceClose(reason: "drain grace period over") }
            }
            // Give the closes a moment to run, then finish regardless.
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(200)) { finishOnce() }
        }
    }
}
