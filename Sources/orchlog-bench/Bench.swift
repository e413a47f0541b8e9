import Foundation
import OrchLogTestSupport
import OrchLogWire

/// What every scenario shares: sizes, the report, a scratch directory, and how to get a server.
final class Bench {
    let sizes: Sizes
    let report: Report
    let sync: String
    let clientThreads: Int
    let externalPort: UInt16?
    let redisDir: String
    let peerBin: String?
    let scratch = TemporaryDirectory()
    private var serverCount = 0

    /// redis-benchmark's thread counts: its default single thread (the command) and as
    /// many as this bench's load generator; the Health target counts the faster run.
    var redisThreadCounts: [Int] { Set([1, self.clientThreads]).sorted() }

    init(
        sizes: Sizes, report: Report, sync: String, clientThreads: Int, externalPort: UInt16?, redisDir: String,
        peerBin: String?
    ) {
        self.sizes = sizes
        self.report = report
        self.sync = sync
        self.clientThreads = clientThreads
        self.externalPort = externalPort
        self.redisDir = redisDir
        self.peerBin = peerBin
    }

    func run(_ scenario: Scenario) throws {
        switch scenario {
        case .appendDurable: try self.appendDurable()
        case .appendBatch: try self.appendBatch()
        case .rpcCeiling: try self.rpcCeiling()
        case .follow: try self.follow()
        case .tree: try self.tree()
        case .children: try self.children()
        case .memory: try self.memory()
        case .startup: try self.startup()
        case .peer: try self.peer()
        }
    }

    /// A fresh orchlogd on its own database (or the external one).
    func startServer(_ name: String, database: String? = nil) throws -> ServerUnderTest {
        if let externalPort { return .external(port: externalPort) }
        self.serverCount += 1
        let path = database ?? self.scratch.file("\(name)-\(self.serverCount).db")
        return try ServerUnderTest.launch(database: path, arguments: ["--sync", self.sync])
    }

    /// A path for a scratch database the bench writes itself.
    func scratchDatabase(_ name: String) -> String {
        self.serverCount += 1
        return self.scratch.file("\(name)-\(self.serverCount).db")
    }

    /// A connection for set-up work and single streams.
    func connect(_ server: ServerUnderTest) throws -> LoadConnection {
        try LoadConnection(port: server.port, index: 0)
    }

    /// Appends one root entry and returns its id.
    func appendRoot(on connection: LoadConnection, content: String) throws -> String {
        let response = try connection.unary(MethodPath.appendLog, Orchlog_V1_AppendLogRequest.with {
            $0.entry = .with {
                $0.category = "session"
                $0.content = content
            }
        }, as: Orchlog_V1_AppendLogResponse.self)
        return response.entry.orchestrationSessionLogID
    }

    /// Appends `entries` with AppendLogs in batches of at most 1,000; returns the stored entries.
    @discardableResult
    func appendAll(_ entries: [Orchlog_V1_LogEntry], on connection: LoadConnection) throws -> [Orchlog_V1_LogEntry] {
        var stored: [Orchlog_V1_LogEntry] = []
        stored.reserveCapacity(entries.count)
        var start = 0
        while start < entries.count {
            let batch = Array(entries[start..<min(start + 1000, entries.count)])
            let response = try connection.unary(
                MethodPath.appendLogs, Orchlog_V1_AppendLogsRequest.with { $0.entries = batch },
                as: Orchlog_V1_AppendLogsResponse.self
            )
            stored.append(contentsOf: response.results.map(\.entry))
            start += batch.count
        }
        return stored
    }
}

/// Id kinds the append scenarios compare: v7 ids arrive in index order, v4 ids land anywhere.
enum IDKind: String, CaseIterable {
    case v7, v4

    func generate() -> String { self == .v7 ? LogID.generateV7() : LogID.generateV4() }
}

/// The entries the scenarios write: shaped like an orchestrator's notes.
enum SampleEntry {
    static func child(of parent: String, index: Int, ids: IDKind) -> Orchlog_V1_LogEntry {
        self.child(of: parent, index: index, id: ids.generate())
    }

    static func child(of parent: String, index: Int, id: String) -> Orchlog_V1_LogEntry {
        .with {
            $0.orchestrationSessionLogID = id
            $0.parentExecID = parent
            $0.category = index % 10 == 0 ? "warning" : "note"
            $0.content = "step \(index): task finished, 3 files written"
        }
    }
}

/// Serialized AppendLog requests of new children of one parent, each with a fresh id.
///
/// The request is encoded once; each call copies it and writes a new id over the old one (ids
/// are 36 bytes of text), as redis-benchmark writes random keys into a command it built once.
/// The load generator's CPU then goes to the calls, not to encoding the same message again.
struct AppendRequests: Sendable {
    private let template: [UInt8]
    private let idOffset: Int
    private let ids: IDKind

    init(parent: String, ids: IDKind) {
        let encode = { (id: String) in
            Orchlog_V1_AppendLogRequest.with { $0.entry = SampleEntry.child(of: parent, index: 0, id: id) }.encodedBytes()
        }
        let id = ids.generate()
        self.template = encode(id)
        guard let range = self.template.firstRange(of: Array(id.utf8)) else {
            preconditionFailure("an encoded AppendLog request holds its entry's id")
        }
        self.idOffset = range.lowerBound
        self.ids = ids
        let other = ids.generate()
        precondition(self.request(id: other) == encode(other), "a request with its id written over is the request encoded with that id")
    }

    /// The request of one more new child.
    func next() -> [UInt8] { self.request(id: self.ids.generate()) }

    private func request(id: String) -> [UInt8] {
        var request = self.template
        request.withUnsafeMutableBufferPointer { bytes in
            for (index, byte) in id.utf8.enumerated() { bytes[self.idOffset + index] = byte }
        }
        return request
    }
}
