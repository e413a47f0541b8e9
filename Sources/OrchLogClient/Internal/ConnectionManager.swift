import OrchLogNet

/// Keeps one usable connection to the server: connects on first use, reconnects after a loss
/// or a goaway with the configured connection backoff, and lets calls wait for it until their
/// deadline (rather than failing while the server restarts).
///
/// One connect runs at a time, and every call that needs a connection meanwhile waits for it.
actor ConnectionManager {
    private let address: SocketAddress
    private let backoff: ConnectionBackoff
    private let clientName: String
    private let authToken: String?
    private let waitsForConnection: Bool
    private let firstCallID: UInt32
    private var current: ClientConnection?
    /// Connections replaced while calls still ran on them (after a goaway, or out of call ids):
    /// closed by `shutdown` if they are still open then.
    private var retired: [ClientConnection] = []
    private var connecting: Task<Void, Never>?
    /// Calls waiting for a connection, each with the task that fails it at its deadline.
    private var waiters: [Int: (continuation: CheckedContinuation<ClientConnection, any Error>, timeout: Task<Void, Never>?)] = [:]
    private var nextWaiterID = 0
    /// Connect attempts that failed in a row.
    private var failures = 0
    private var isShutDown = false

    init(
        address: SocketAddress, backoff: ConnectionBackoff, clientName: String, authToken: String?,
        waitsForConnection: Bool, firstCallID: UInt32
    ) {
        self.waitsForConnection = waitsForConnection
        self.firstCallID = firstCallID
        self.address = address
        self.backoff = backoff
        self.clientName = clientName
        self.authToken = authToken
    }

    /// A connection that accepts calls, waiting for a (re)connect if needed, at most until
    /// `deadline` (then DEADLINE_EXCEEDED) or until the calling task is cancelled (CANCELLED).
    func connection(before deadline: ContinuousClock.Instant?) async throws(OrchLogError) -> ClientConnection {
        guard !self.isShutDown else { throw Self.closed }
        if let current, current.acceptsCalls { return current }
        if let current {
            // Lost or going away: its running calls finish on it (the server, or the connection
            // itself once out of call ids, closes it after them); new calls get a new one.
            self.retired.removeAll { $0.isClosed }
            if !current.isClosed { self.retired.append(current) }
            self.current = nil
        }
        if self.connecting == nil {
            self.connecting = Task { await self.connectWithBackoff() }
        }
        let id = self.nextWaiterID
        self.nextWaiterID += 1
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    // Cancelled once the wait ends, so that it does not live on until the deadline.
                    let timeout = deadline.map { deadline in
                        Task { [weak self] in
                            guard (try? await Duration.sleep(until: deadline)) != nil else { return }
                            await self?.resumeWaiter(id, with: .failure(OrchLogError.deadlineExceeded("deadline exceeded while connecting")))
                        }
                    }
                    self.waiters[id] = (continuation, timeout)
                }
            } onCancel: {
                Task { await self.resumeWaiter(id, with: .failure(OrchLogError.cancelled)) }
            }
        } catch let error as OrchLogError {
            throw error
        } catch {
            throw .unavailable("connect failed: \(error)")
        }
    }

    private func resumeWaiter(_ id: Int, with result: Result<ClientConnection, any Error>) {
        guard let waiter = self.waiters.removeValue(forKey: id) else { return }
        waiter.timeout?.cancel()
        waiter.continuation.resume(with: result)
    }

    private func resumeAllWaiters(with result: Result<ClientConnection, any Error>) {
        for id in Array(self.waiters.keys) { self.resumeWaiter(id, with: result) }
    }

    /// Closes every connection and stops reconnecting; calls still running end with CANCELLED,
    /// later calls fail with FAILED_PRECONDITION.
    func shutdown() {
        self.isShutDown = true
        self.connecting?.cancel()
        self.connecting = nil
        self.resumeAllWaiters(with: .failure(Self.closed))
        self.current?.close()
        self.current = nil
        for connection in self.retired { connection.close() }
        self.retired = []
    }

    private static let closed = OrchLogError(code: .failedPrecondition, message: "the client is closed")

    /// Connects, backing off between failures (when calls wait for the connection) until it
    /// succeeds or the client shuts down; hands the connection, or the failure, to every
    /// waiting call.
    private func connectWithBackoff() async {
        while !Task.isCancelled && !self.isShutDown {
            do {
                let connection = try await ClientConnection.connect(
                    to: self.address, timeout: self.backoff.connectTimeout(afterFailures: self.failures),
                    clientName: self.clientName, authToken: self.authToken, firstCallID: self.firstCallID
                )
                self.connecting = nil
                guard !self.isShutDown else {
                    // The client was closed while this connect ran.
                    connection.close()
                    return
                }
                self.failures = 0
                self.current = connection
                self.resumeAllWaiters(with: .success(connection))
                return
            } catch where !self.waitsForConnection || Self.refusals.contains(error.code) {
                // Not waiting: the attempt fails, and the retry policy decides. A refusal: the
                // server will say the same again (a wrong token, another protocol version).
                self.connecting = nil
                self.resumeAllWaiters(with: .failure(error))
                return
            } catch {
                self.failures += 1
                try? await Task.sleep(for: self.backoff.delay(afterFailures: self.failures))
            }
        }
    }

    /// Handshake answers that reconnecting cannot change (INTERNAL: a `hello_ack` this client
    /// cannot use).
    private static let refusals: Set<StatusCode> = [.unauthenticated, .permissionDenied, .failedPrecondition, .internal]
}
