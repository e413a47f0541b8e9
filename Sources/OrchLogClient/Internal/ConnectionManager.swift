import OrchLogNet

/// Keeps one usable connection to the server: connects on first use, reconnects after a loss
/// or a goaway with the configured connection backoff, and lets calls wait for it until their
/// deadline (rather than failing while the server restarts).
actor ConnectionManager {
    private let address: SocketAddress
    private let backoff: ConnectionBackoff
    private let clientName: String
    private let authToken: String?
    private let waitsForConnection: Bool
    private let firstCallID: UInt32
    private var current: ClientConnection?
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

    /// A connection that accepts calls, waiting for a reconnect if needed, at most until
    /// `deadline` (then DEADLINE_EXCEEDED).
    func connection(before deadline: ContinuousClock.Instant?) async throws(OrchLogError) -> ClientConnection {
        if let current, current.acceptsCalls { return current }
        // Lost or going away: its running calls finish on it (the server closes it once they
        // have); new calls get a new connection.
        self.current = nil
        guard !self.isShutDown else { throw .unavailable("the client is closed") }
        if !self.waitsForConnection && self.connecting == nil {
            let connection = try await ClientConnection.connect(
                to: self.address, timeout: self.backoff.connectTimeout(afterFailures: 0),
                clientName: self.clientName, authToken: self.authToken, firstCallID: self.firstCallID
            )
            self.current = connection
            return connection
        }
        if self.connecting == nil {
            self.connecting = Task { await self.connectWithBackoff() }
        }
        // Wait for the reconnect, but no longer than the deadline or the caller's task.
        let id = self.nextWaiterID
        self.nextWaiterID += 1
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    // Cancelled once the wait ends, so that it does not live on until the deadline.
                    let timeout = deadline.map { deadline in
                        Task { [weak self] in
                            guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
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

    /// Closes the connection and stops reconnecting.
    func shutdown() {
        self.isShutDown = true
        self.connecting?.cancel()
        self.connecting = nil
        self.resumeAllWaiters(with: .failure(OrchLogError.unavailable("the client is closed")))
        self.current?.close()
        self.current = nil
    }

    /// Connects, backing off between failures, until it succeeds or the client shuts down;
    /// hands the connection to every waiting call.
    private func connectWithBackoff() async {
        while !Task.isCancelled && !self.isShutDown {
            do {
                let connection = try await ClientConnection.connect(
                    to: self.address, timeout: self.backoff.connectTimeout(afterFailures: self.failures),
                    clientName: self.clientName, authToken: self.authToken, firstCallID: self.firstCallID
                )
                self.failures = 0
                self.current = connection
                self.connecting = nil
                self.resumeAllWaiters(with: .success(connection))
                return
            } catch where Self.refusals.contains(error.code) {
                // The server will say the same again (a wrong token, another protocol version):
                // fail the waiting calls now instead of retrying until their deadlines.
                self.connecting = nil
                self.resumeAllWaiters(with: .failure(error))
                return
            } catch {
                self.failures += 1
                try? await Task.sleep(for: self.backoff.delay(afterFailures: self.failures))
            }
        }
    }

    /// Handshake answers that reconnecting cannot change.
    private static let refusals: Set<StatusCode> = [.unauthenticated, .permissionDenied, .failedPrecondition]
}
