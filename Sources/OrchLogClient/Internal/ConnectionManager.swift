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
    private var current: ClientConnection?
    private var connecting: Task<ClientConnection, any Error>?
    /// Connect attempts that failed in a row.
    private var failures = 0
    private var isShutDown = false

    init(address: SocketAddress, backoff: ConnectionBackoff, clientName: String, authToken: String?, waitsForConnection: Bool) {
        self.waitsForConnection = waitsForConnection
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
                clientName: self.clientName, authToken: self.authToken
            )
            self.current = connection
            return connection
        }
        let task: Task<ClientConnection, any Error>
        if let connecting {
            task = connecting
        } else {
            task = Task { try await self.connectWithBackoff() }
            self.connecting = task
        }
        do {
            return try await Self.value(of: task, before: deadline)
        } catch let error as OrchLogError {
            throw error
        } catch {
            throw .unavailable("connect failed: \(error)")
        }
    }

    /// Closes the connection and stops reconnecting.
    func shutdown() {
        self.isShutDown = true
        self.connecting?.cancel()
        self.connecting = nil
        self.current?.close()
        self.current = nil
    }

    private func connectWithBackoff() async throws -> ClientConnection {
        while true {
            try Task.checkCancellation()
            do {
                let connection = try await ClientConnection.connect(
                    to: self.address, timeout: self.backoff.connectTimeout(afterFailures: self.failures),
                    clientName: self.clientName, authToken: self.authToken
                )
                self.failures = 0
                self.current = connection
                self.connecting = nil
                return connection
            } catch {
                self.failures += 1
                try await Task.sleep(for: self.backoff.delay(afterFailures: self.failures))
            }
        }
    }

    /// Waits for `task`, or throws DEADLINE_EXCEEDED at `deadline`; the task itself goes on.
    private static func value(
        of task: Task<ClientConnection, any Error>, before deadline: ContinuousClock.Instant?
    ) async throws -> ClientConnection {
        guard let deadline else { return try await task.value }
        return try await withThrowingTaskGroup(of: ClientConnection?.self) { group in
            group.addTask { try await task.value }
            group.addTask {
                try? await Task.sleep(until: deadline, clock: .continuous)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let connection = first else {
                throw OrchLogError.deadlineExceeded("deadline exceeded while connecting")
            }
            return connection
        }
    }
}
