import GRPCCore
import GRPCPeerMethods
import GRPCProtobuf
import OrchLogStore
import OrchLogWire
import SwiftProtobuf

/// `orchlog.v1.OrchestrationLog` on grpc-swift 2, over the same `LogStore` as orchlogd.
///
/// Each handler mirrors orchlogd's (Sources/OrchLogServer/LogService.swift): same validation
/// (`NewEntry.validate`), same store calls, same status codes and messages. What differs is only
/// what grpc-swift decides: framing, flow control, concurrency limits (library defaults).
package struct OrchLogGRPCService: RegistrableRPCService {
    package let store: LogStore
    package let drain: Drain
    /// Sent in `Health.version`.
    package var version = "0.1.0"
    /// Messages per database page when streams read (orchlogd's `streamPageSize`).
    package var streamPageSize = 256
    /// orchlogd refuses an append whose response could exceed its 4 MiB frame; the gRPC
    /// equivalent is the client's default 4 MiB limit on a received message.
    package var maxMessageBytes = 4 * 1024 * 1024

    package init(store: LogStore, drain: Drain) {
        self.store = store
        self.drain = drain
    }

    package func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        self.unary(OrchLogMethods.AppendLog.descriptor, &router) { try await self.appendLog($0) }
        self.unary(OrchLogMethods.AppendLogs.descriptor, &router) { try await self.appendLogs($0) }
        self.unary(OrchLogMethods.GetLog.descriptor, &router) { try await self.getLog($0.message) }
        self.unary(OrchLogMethods.Health.descriptor, &router) { (_: Sized<Orchlog_V1_HealthRequest>) in self.health() }
        router.registerHandler(
            forMethod: OrchLogMethods.StreamChildren.descriptor,
            deserializer: SizedDeserializer<OrchLogMethods.StreamChildren.Input>(),
            serializer: EncodedSerializer()
        ) { request, context in
            try self.refuseWhileDraining()
            let request = try await ServerRequest(stream: request).message.message
            return try await ChildrenStream.response(to: request, service: self, context: context)
        }
        router.registerHandler(
            forMethod: OrchLogMethods.GetTree.descriptor,
            deserializer: SizedDeserializer<OrchLogMethods.GetTree.Input>(),
            serializer: ProtobufSerializer<OrchLogMethods.GetTree.Output>()
        ) { request, context in
            try self.refuseWhileDraining()
            let request = try await ServerRequest(stream: request).message.message
            return try await TreeStream.response(to: request, service: self, context: context)
        }
    }

    /// Registers a unary method: one request message in, one response message out.
    private func unary<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message, Transport: ServerTransport>(
        _ descriptor: MethodDescriptor, _ router: inout RPCRouter<Transport>,
        _ body: @escaping @Sendable (Sized<Input>) async throws -> Output
    ) {
        router.registerHandler(
            forMethod: descriptor,
            deserializer: SizedDeserializer<Input>(),
            serializer: ProtobufSerializer<Output>()
        ) { request, _ in
            try self.refuseWhileDraining()
            let request = try await ServerRequest(stream: request)
            return StreamingServerResponse(single: ServerResponse(message: try await body(request.message)))
        }
    }

    /// orchlogd ends calls started while it drains with UNAVAILABLE.
    private func refuseWhileDraining() throws(RPCError) {
        if self.drain.isDraining { throw Drain.shuttingDown }
    }

    // MARK: - The unary RPCs

    private func appendLog(_ request: Sized<Orchlog_V1_AppendLogRequest>) async throws(RPCError) -> Orchlog_V1_AppendLogResponse {
        let entry = try mapped { () throws(RPCStatus) -> NewEntry in
            guard request.message.hasEntry else { throw .invalidArgument("entry: required") }
            let entry = try NewEntry.validate(
                request.message.entry, fieldPath: "entry", maxContentBytes: self.store.options.maxContentBytes
            )
            try self.checkResponseFits(requestBytes: request.bytes, entries: 1)
            return entry
        }
        let outcomes = try await self.store.append([entry])
        return .with {
            $0.entry = LogEntryMessage(outcomes[0].record)
            $0.created = outcomes[0].created
        }
    }

    private func appendLogs(_ request: Sized<Orchlog_V1_AppendLogsRequest>) async throws(RPCError) -> Orchlog_V1_AppendLogsResponse {
        let maxContent = self.store.options.maxContentBytes
        let entries = try mapped { () throws(RPCStatus) -> [NewEntry] in
            var entries: [NewEntry] = []
            entries.reserveCapacity(request.message.entries.count)
            for (index, message) in request.message.entries.enumerated() {
                entries.append(try NewEntry.validate(message, fieldPath: "entries[\(index)]", maxContentBytes: maxContent))
            }
            if !entries.isEmpty {
                try self.checkResponseFits(requestBytes: request.bytes, entries: entries.count)
            }
            return entries
        }
        guard !entries.isEmpty else { return Orchlog_V1_AppendLogsResponse() }
        let outcomes = try await self.store.append(entries)
        return .with {
            $0.results = outcomes.map { outcome in
                .with {
                    $0.entry = LogEntryMessage(outcome.record)
                    $0.created = outcome.created
                }
            }
        }
    }

    private func getLog(_ request: Orchlog_V1_GetLogRequest) async throws(RPCError) -> LogEntryMessage {
        let id = try mapped { () throws(RPCStatus) in
            try canonicalID(
                request.hasOrchestrationSessionLogID ? request.orchestrationSessionLogID : nil,
                field: "orchestration_session_log_id"
            )
        }
        return try await self.store.read { reader throws(RPCStatus) in
            guard let record = try reader.entry(id: id) else {
                throw .notFound("orchestration_session_log_id: entry \(id) not found")
            }
            return LogEntryMessage(record)
        }
    }

    private func health() -> Orchlog_V1_HealthResponse {
        .with {
            $0.status = "SERVING"
            $0.version = self.version
            $0.entryCount = self.store.entryCount
        }
    }

    /// What an append response adds to each entry of its request (orchlogd's figure).
    private static let responseBytesPerEntry = 96

    /// Refuses, before anything is written, an append whose response could exceed the limit.
    private func checkResponseFits(requestBytes: Int, entries: Int) throws(RPCStatus) {
        let response = requestBytes + entries * Self.responseBytesPerEntry
        guard response <= self.maxMessageBytes else {
            throw .invalidArgument(
                "request too large: its response (up to \(response) bytes) would exceed the message limit of "
                    + "\(self.maxMessageBytes) bytes; split the batch"
            )
        }
    }
}

/// Runs store-side validation and turns its `RPCStatus` into the matching `RPCError`.
func mapped<T>(_ body: () throws(RPCStatus) -> T) throws(RPCError) -> T {
    do {
        return try body()
    } catch {
        throw error.rpcError
    }
}
