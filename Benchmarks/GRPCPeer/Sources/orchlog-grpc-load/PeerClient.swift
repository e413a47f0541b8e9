import GRPCCore
import GRPCNIOTransportHTTP2Posix
import GRPCPeerMethods
import GRPCProtobuf
import OrchLogWire
import SwiftProtobuf

/// One `GRPCClient` (one HTTP/2 connection: one target address, the default pick-first policy)
/// with typed calls for the orchlog methods. Library defaults throughout: default transport
/// config, `CallOptions.defaults`, plaintext.
struct PeerClient: Sendable {
    let client: GRPCClient<HTTP2ClientTransport.Posix>

    init(target: Target) throws {
        let resolvable: any ResolvableTarget = target.host.allSatisfy { $0.isNumber || $0 == "." }
            ? .ipv4(address: target.host, port: target.port)
            : .dns(host: target.host, port: target.port)
        self.client = GRPCClient(transport: try .http2NIOPosix(target: resolvable, transportSecurity: .plaintext))
    }

    private func unary<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
        _ descriptor: MethodDescriptor, _ message: Input
    ) async throws -> Output {
        try await self.client.unary(
            request: ClientRequest(message: message),
            descriptor: descriptor,
            serializer: ProtobufSerializer<Input>(),
            deserializer: ProtobufDeserializer<Output>(),
            options: .defaults
        ) { try $0.message }
    }

    func appendLog(_ entry: LogEntryMessage) async throws -> Orchlog_V1_AppendLogResponse {
        try await self.unary(OrchLogMethods.AppendLog.descriptor, Orchlog_V1_AppendLogRequest.with { $0.entry = entry })
    }

    func appendLogs(_ entries: [LogEntryMessage]) async throws -> Orchlog_V1_AppendLogsResponse {
        try await self.unary(OrchLogMethods.AppendLogs.descriptor, Orchlog_V1_AppendLogsRequest.with { $0.entries = entries })
    }

    func getLog(_ id: String) async throws -> LogEntryMessage {
        try await self.unary(OrchLogMethods.GetLog.descriptor, Orchlog_V1_GetLogRequest.with { $0.orchestrationSessionLogID = id })
    }

    func health() async throws -> Orchlog_V1_HealthResponse {
        try await self.unary(OrchLogMethods.Health.descriptor, Orchlog_V1_HealthRequest())
    }

    /// Runs `body` over the messages of one StreamChildren call; returning from `body` ends
    /// (cancels) the call.
    func streamChildren<R: Sendable>(
        _ request: Orchlog_V1_StreamChildrenRequest,
        _ body: @escaping @Sendable (RPCAsyncSequence<LogEntryMessage, any Error>) async throws -> R
    ) async throws -> R {
        try await self.client.serverStreaming(
            request: ClientRequest(message: request),
            descriptor: OrchLogMethods.StreamChildren.descriptor,
            serializer: ProtobufSerializer<Orchlog_V1_StreamChildrenRequest>(),
            deserializer: ProtobufDeserializer<LogEntryMessage>(),
            options: .defaults
        ) { response in try await body(response.messages) }
    }
}

/// N clients, each with its connection-running task.
final class ClientPool: Sendable {
    let clients: [PeerClient]
    private let runners: [Task<Void, Never>]

    init(target: Target, count: Int) throws {
        let clients = try (0..<count).map { _ in try PeerClient(target: target) }
        self.clients = clients
        self.runners = clients.map { peer in Task { try? await peer.client.runConnections() } }
    }

    /// One Health call on every client, concurrently: connects them all before anything is timed.
    func connectAll() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in self.clients {
                group.addTask { _ = try await client.health() }
            }
            try await group.waitForAll()
        }
    }

    /// Closes every connection; gives up waiting after `timeout` (the process exits anyway).
    func shutdown(timeout: Duration = .seconds(2)) async {
        for client in self.clients { client.client.beginGracefulShutdown() }
        let runners = self.runners
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for runner in runners { await runner.value } }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
            for runner in runners { runner.cancel() }
        }
    }
}
