import OrchLogStore
import OrchLogWire
import SwiftProtobuf

/// The six RPCs of `orchlog.v1.OrchestrationLog`: request decoding, validation, and the store
/// operation behind each. Runs on the connection's queue; store work runs on the store's queues.
enum LogService {
    /// Starts `call`; every outcome ends up in `connection.finish`.
    static func start(_ call: ServerCall, request: [UInt8], on connection: ServerConnection) {
        do throws(RPCStatus) {
            switch call.method {
            case .appendLog:
                try self.appendLog(call, try decode(request), requestBytes: request.count, connection)
            case .appendLogs:
                try self.appendLogs(call, try decode(request), requestBytes: request.count, connection)
            case .getLog:
                try self.getLog(call, try decode(request), connection)
            case .streamChildren:
                let stream = try ChildrenStream(connection: connection, call: call, request: try decode(request))
                call.stream = stream
                stream.start()
            case .getTree:
                let stream = try TreeStream(connection: connection, call: call, request: try decode(request))
                call.stream = stream
                stream.start()
            case .health:
                let _: Orchlog_V1_HealthRequest = try decode(request)
                connection.respond(call, .success(self.healthResponse(
                    version: connection.configuration.version, entryCount: connection.store.entryCount
                )))
            case .unknown(let path):
                throw RPCStatus(.unimplemented, "method \"\(path.excerpt(maxBytes: 200))\" is not implemented by this server")
            }
        } catch {
            connection.finish(call, error)
        }
    }

    /// `HealthResponse { status: "SERVING", version, entry_count }` in wire form: the cheapest
    /// call there is, so it is written by hand like the other unary responses.
    private static func healthResponse(version: String, entryCount: UInt64) -> [UInt8] {
        WireFormat.encode(capacity: 24 + version.utf8.count) { bytes in
            WireFormat.appendStringField(0x0A, "SERVING", to: &bytes)  // 1: status
            WireFormat.appendStringField(0x12, version, to: &bytes)  // 2: version
            WireFormat.appendVarintField(0x18, entryCount, to: &bytes)  // 3: entry_count
        }
    }

    private static func decode<M: SwiftProtobuf.Message>(_ bytes: [UInt8]) throws(RPCStatus) -> M {
        // No bytes are every message's defaults (a Health request is always empty).
        guard !bytes.isEmpty else { return M() }
        do {
            return try M.decodeUntrusted(bytes)
        } catch {
            throw .invalidArgument("request is not a valid \(M.protoMessageName): \(describeDecodingFailure(error))")
        }
    }

    /// What an append response adds to each entry of its request: the generated id, seq, the
    /// assigned order, `created` and the message wrappers.
    private static let responseBytesPerEntry = 96

    /// Refuses, before anything is written, an append whose response could not fit in a frame.
    private static func checkResponseFits(
        requestBytes: Int, entries: Int, _ connection: ServerConnection
    ) throws(RPCStatus) {
        let response = requestBytes + entries * self.responseBytesPerEntry + ServerConnection.messageFrameOverhead
        guard response <= connection.configuration.maxFrameBytes else {
            throw .invalidArgument(
                "request too large: its response (up to \(response) bytes) would exceed the frame limit of "
                    + "\(connection.configuration.maxFrameBytes) bytes; split the batch"
            )
        }
    }

    private static func appendLog(
        _ call: ServerCall, _ request: Orchlog_V1_AppendLogRequest, requestBytes: Int, _ connection: ServerConnection
    ) throws(RPCStatus) {
        guard request.hasEntry else { throw .invalidArgument("entry: required") }
        let entry = try NewEntry.validate(
            request.entry, fieldPath: "entry", maxContentBytes: connection.store.options.maxContentBytes
        )
        try self.checkResponseFits(requestBytes: requestBytes, entries: 1, connection)
        connection.store.append([entry]) { result in
            connection.handOverReply(call, result) { $0[0].responseBytes }
        }
    }

    private static func appendLogs(
        _ call: ServerCall, _ request: Orchlog_V1_AppendLogsRequest, requestBytes: Int, _ connection: ServerConnection
    ) throws(RPCStatus) {
        let maxContent = connection.store.options.maxContentBytes
        var entries: [NewEntry] = []
        entries.reserveCapacity(request.entries.count)
        for (index, message) in request.entries.enumerated() {
            entries.append(try NewEntry.validate(message, fieldPath: "entries[\(index)]", maxContentBytes: maxContent))
        }
        guard !entries.isEmpty else {
            connection.reply(call, .success([]))  // an empty AppendLogsResponse
            return
        }
        try self.checkResponseFits(requestBytes: requestBytes, entries: entries.count, connection)
        connection.store.append(entries) { result in
            connection.handOverReply(call, result, encode: AppendOutcome.batchResponseBytes)
        }
    }

    private static func getLog(
        _ call: ServerCall, _ request: Orchlog_V1_GetLogRequest, _ connection: ServerConnection
    ) throws(RPCStatus) {
        let id = try canonicalID(
            request.hasOrchestrationSessionLogID ? request.orchestrationSessionLogID : nil,
            field: "orchestration_session_log_id"
        )
        connection.store.read({ reader throws(RPCStatus) in
            guard let record = try reader.entry(id: id) else {
                throw .notFound("orchestration_session_log_id: entry \(id) not found")
            }
            return record.entryBytes
        }, completion: { connection.reply(call, $0) })
    }
}
