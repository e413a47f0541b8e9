import Foundation
import OrchLogNet
import OrchLogWire
import SwiftProtobuf

/// A client of an orchlog server: one multiplexed connection, async/await, retries, reconnects.
///
/// ```swift
/// let client = try OrchLogClient(host: "127.0.0.1", port: 7700)
/// let root = try await client.appendLog(LogEntry(content: "session started", category: "note"))
/// for try await child in client.streamChildren(of: root.entry.id, follow: true) { print(child.content) }
/// ```
///
/// Every call is safe to retry: `LogEntry` fixes its id before the first attempt, so a retried
/// append finds the stored entry instead of adding one. A call's timeout spans all its attempts
/// and reconnects. Cancelling the calling task cancels the call on the server.
public final class OrchLogClient: Sendable {
    public let configuration: Configuration
    let manager: ConnectionManager

    /// A client of the server at `host:port` (a numeric address or `localhost`). Connects on the
    /// first call.
    /// - Throws: `OrchLogError` INVALID_ARGUMENT for an address that cannot be used.
    public init(host: String, port: Int, configuration: Configuration = Configuration()) throws {
        guard let port = UInt16(exactly: port) else {
            throw OrchLogError(code: .invalidArgument, message: "port \(port) is out of range")
        }
        let address: SocketAddress
        do {
            address = try SocketAddress(host: host, port: port)
        } catch {
            throw OrchLogError(code: .invalidArgument, message: "\(error)")
        }
        self.configuration = configuration
        self.manager = ConnectionManager(
            address: address, backoff: configuration.connectionBackoff,
            clientName: configuration.clientName, authToken: configuration.authToken,
            waitsForConnection: configuration.waitsForConnection,
            firstCallID: max(1, configuration._firstCallID)
        )
    }

    /// Closes the client: calls still running end with CANCELLED, later calls fail with
    /// FAILED_PRECONDITION.
    public func close() async {
        await self.manager.shutdown()
    }

    // MARK: - Unary calls

    /// Appends one entry.
    /// - Returns: the stored entry (with `seq` and the assigned `siblingOrder`) and whether this
    ///   call created it (`false`: an identical entry with that id was already stored).
    /// - Throws: `OrchLogError` — INVALID_ARGUMENT, FAILED_PRECONDITION (no such parent),
    ///   ALREADY_EXISTS (same id, other fields), DEADLINE_EXCEEDED, UNAVAILABLE.
    /// The result may be ignored: a worker that only logs needs no more than the absence of an error.
    @discardableResult
    public func appendLog(_ entry: LogEntry, options: CallOptions = .defaults) async throws(OrchLogError) -> AppendResult {
        let response: Orchlog_V1_AppendLogResponse = try await self.unary(
            MethodPath.appendLog, Orchlog_V1_AppendLogRequest.with { $0.entry = entry.message }, options: options
        )
        return try AppendResult(response)
    }

    /// Appends entries atomically: all or none. A parent may come earlier in the same batch.
    @discardableResult
    public func appendLogs(_ entries: [LogEntry], options: CallOptions = .defaults) async throws(OrchLogError) -> [AppendResult] {
        let response: Orchlog_V1_AppendLogsResponse = try await self.unary(
            MethodPath.appendLogs, Orchlog_V1_AppendLogsRequest.with { $0.entries = entries.map(\.message) }, options: options
        )
        var results: [AppendResult] = []
        for result in response.results { results.append(try AppendResult(result)) }
        return results
    }

    /// The entry with `id`.
    /// - Throws: `OrchLogError` NOT_FOUND if there is none.
    public func getLog(id: UUID, options: CallOptions = .defaults) async throws(OrchLogError) -> LogEntry {
        let response: LogEntryMessage = try await self.unary(
            MethodPath.getLog, Orchlog_V1_GetLogRequest.with { $0.orchestrationSessionLogID = id.wireString }, options: options
        )
        return try LogEntry(response)
    }

    /// The server's status, version and entry count.
    public func health(options: CallOptions = .defaults) async throws(OrchLogError) -> HealthStatus {
        let response: Orchlog_V1_HealthResponse = try await self.unary(
            MethodPath.health, Orchlog_V1_HealthRequest(), options: options
        )
        return HealthStatus(status: response.status, version: response.version, entryCount: response.entryCount)
    }

    // MARK: - Streams

    /// The children of `parent` (`nil`: the roots) with `seq > after`, in seq order. With
    /// `follow`, the sequence stays open and yields each new child as it commits; after a lost
    /// connection or a server restart it reopens after the last seq it yielded, so every child
    /// comes exactly once. Only an unrecoverable error ends it. `limit` 0 means no limit.
    public func streamChildren(
        of parent: UUID?, after: UInt64 = 0, follow: Bool = false, limit: Int = 0, options: CallOptions = .defaults
    ) -> ChildrenSequence {
        ChildrenSequence(client: self, parent: parent, after: after, follow: follow, limit: max(0, limit), options: options)
    }

    /// The subtree under `root` in depth-first preorder (siblings by sibling order, NULL last,
    /// then seq), the root at depth 0; `maxDepth` 0 means no bound.
    public func getTree(root: UUID, maxDepth: Int = 0, options: CallOptions = .defaults) -> TreeSequence {
        TreeSequence(client: self, root: root, maxDepth: max(0, maxDepth), options: options)
    }

    // MARK: - Internals

    /// When a call with these options must be over.
    func deadline(for options: CallOptions, default fallback: Duration?) -> ContinuousClock.Instant? {
        (options.timeout ?? fallback).map { ContinuousClock.now.advanced(by: $0) }
    }

    private func unary<Response: SwiftProtobuf.Message>(
        _ method: String, _ request: some SwiftProtobuf.Message, options: CallOptions
    ) async throws(OrchLogError) -> Response {
        let bytes = request.encodedBytes()
        let deadline = self.deadline(for: options, default: self.configuration.defaultTimeout)
        return try await self.withRetries(method, deadline: deadline) { () async throws(OrchLogError) -> Response in
            let connection = try await self.manager.connection(before: deadline)
            let call = await connection.start(
                method: method, request: bytes, deadline: deadline, window: 0, metadata: options.metadata
            )
            var payload: [UInt8]?
            while true {
                switch await connection.next(call) {
                case .message(let message):
                    payload = message
                case .end(nil):
                    guard let payload else {
                        throw OrchLogError(code: .internal, message: "\(method) ended OK without a response")
                    }
                    do {
                        return try Response.decodeUntrusted(payload)
                    } catch {
                        throw OrchLogError(code: .internal, message: "undecodable \(Response.protoMessageName): \(error)")
                    }
                case .end(let error?):
                    throw error
                }
            }
        }
    }

    /// Runs `attempt` under the retry policy and throttle, within `deadline`.
    func withRetries<T>(
        _ method: String, deadline: ContinuousClock.Instant?, _ attempt: () async throws(OrchLogError) -> T
    ) async throws(OrchLogError) -> T {
        let policy = self.configuration.retryPolicy
        let throttle = self.configuration.retryThrottle
        var number = 1
        while true {
            self.configuration._attemptObserver?(method, number)
            do {
                let result = try await attempt()
                throttle.recordSuccess()
                return result
            } catch {
                guard policy.isRetryable(error) else { throw error }
                throttle.recordFailure()
                guard number < policy.maxAttempts, throttle.isRetryPermitted, !Task.isCancelled else { throw error }
                let delay = policy.backoff(afterAttempt: number)
                if let deadline, ContinuousClock.now.advanced(by: delay) >= deadline { throw error }
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    throw .cancelled
                }
                number += 1
            }
        }
    }
}
