import OrchLogWire

/// Runs a server stream for an iterator: opens the call, hands out message payloads, and when
/// the stream fails with a retryable status (connection lost, server draining or restarting)
/// reopens it with a request built afresh — which is how a follow resumes after its last seq.
///
/// Cancelling it (or dropping its iterator) cancels the call on the server.
// @unchecked: used by one iterator at a time; the call itself is confined to its connection.
final class StreamDriver: @unchecked Sendable {
    private let client: OrchLogClient
    private let method: String
    private let options: CallOptions
    private let deadline: ContinuousClock.Instant?
    /// Reopens allowed in a row without a message in between; nil: unlimited (follow).
    private let maxReopens: Int?
    private var connection: ClientConnection?
    private var call: ClientCall?
    private var failuresInARow = 0
    private var finished = false

    init(client: OrchLogClient, method: String, options: CallOptions, follow: Bool) {
        self.client = client
        self.method = method
        self.options = options
        // A follow never ends on the client's default timeout, only on an explicit one.
        self.deadline = client.deadline(for: options, default: follow ? nil : client.configuration.defaultTimeout)
        self.maxReopens = follow ? nil : client.configuration.retryPolicy.maxAttempts - 1
    }

    deinit {
        if let connection, let call { connection.cancel(call) }
    }

    /// The next message's payload, or nil once the stream ended OK.
    ///
    /// - Parameters:
    ///   - request: builds the request for (re)opening the call.
    ///   - canResume: whether a failed stream may be reopened at this point.
    func next(request: () -> [UInt8], canResume: () -> Bool) async throws(OrchLogError) -> [UInt8]? {
        guard !self.finished else { return nil }
        while true {
            if self.call == nil {
                let connection: ClientConnection
                do {
                    connection = try await self.client.manager.connection(before: self.deadline)
                } catch {
                    // A failed connect is one more failure in a row, as a failed call is.
                    try await self.reopenAfter(error, canResume: canResume)
                    continue
                }
                self.connection = connection
                self.call = await connection.start(
                    method: self.method, request: request(), deadline: self.deadline,
                    window: self.client.configuration.streamWindow, metadata: self.options.metadata
                )
            }
            guard let connection = self.connection, let call = self.call else { continue }
            switch await connection.next(call) {
            case .message(let payload):
                self.failuresInARow = 0
                return payload
            case .end(nil):
                self.finish()
                return nil
            case .end(let error?):
                self.call = nil
                self.connection = nil
                try await self.reopenAfter(error, canResume: canResume)
            }
        }
    }

    /// Waits out the backoff before the stream is opened again after `error`, or ends the
    /// stream with it: not retryable, not resumable here, too many failures in a row (a follow
    /// has no limit), or past the deadline.
    private func reopenAfter(_ error: OrchLogError, canResume: () -> Bool) async throws(OrchLogError) {
        guard !Task.isCancelled, error.code != .cancelled, canResume(),
              self.client.configuration.retryPolicy.isRetryable(error)
        else {
            self.finished = true
            throw error
        }
        self.failuresInARow += 1
        if let maxReopens, self.failuresInARow > maxReopens {
            self.finished = true
            throw error
        }
        let delay = self.client.configuration.retryPolicy.backoff(afterAttempt: min(self.failuresInARow, 16))
        if let deadline, ContinuousClock.now.advanced(by: delay) >= deadline {
            self.finished = true
            throw error
        }
        do {
            try await Task.sleep(for: delay)
        } catch {
            self.finished = true
            throw .cancelled
        }
    }

    /// Cancels the call (if open) and ends the stream.
    func cancel() {
        if let connection, let call { connection.cancel(call) }
        self.finish()
    }

    private func finish() {
        self.finished = true
        self.call = nil
        self.connection = nil
    }
}
