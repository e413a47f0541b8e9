import Foundation
import OrchLogStore
import OrchLogTestSupport
import OrchLogWire
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `orchlogd` on a database it cannot write: a read-only file, and a filesystem that fills up.
/// (`DiskFullTests` covers the store's side with SQLite's own page cap.)
@Suite("Disk trouble (orchlogd process)", .serialized)
struct DiskTroubleTests {
    @Test("a read-only database: reads are served, appends fail with UNAVAILABLE and write nothing; restarted on a writable file, appends go in")
    func readOnlyDatabase() throws {
        let directory = TemporaryDirectory()
        // orchlogd runs as nobody when the tests run as root; it must reach the directory and
        // create the -wal and -shm files there.
        chmod(directory.path, 0o777)
        let db = directory.file("ro.db")

        let first = try OrchlogdProcess(db: db)
        let writer = try RawClient(port: first.port)
        try writer.hello()
        var stored: [LogEntryMessage] = []
        for i in 0..<5 { stored.append(try writer.append(entry(content: "before \(i)"))) }
        first.signal(SIGTERM)
        #expect(first.waitForExit(timeout: 10) == 0)

        Self.setMode(0o444, database: db)
        let server = try OrchlogdProcess(db: db, asNobody: true)
        #expect(server.stderrContains("database is read-only"))
        let client = try RawClient(port: server.port)
        try client.hello()

        for record in stored {
            let got = try client.call(MethodPath.getLog, Orchlog_V1_GetLogRequest.with { $0.orchestrationSessionLogID = record.orchestrationSessionLogID })
            #expect(got.code == .ok)
            #expect(try got.decode(LogEntryMessage.self) == [record])
        }
        let refusedID = LogID.generateV7()
        for _ in 0..<3 {
            let refused = try client.call(MethodPath.appendLog, AppendLogRequest.with { $0.entry = entry(id: refusedID, content: "refused") })
            #expect(refused.code == .unavailable)
            #expect(refused.message.contains("read-only"), "\(refused.message)")
        }
        let batch = try client.call(MethodPath.appendLogs, Orchlog_V1_AppendLogsRequest.with {
            $0.entries = [entry(content: "batch 1"), entry(content: "batch 2")]
        })
        #expect(batch.code == .unavailable)
        let missing = try client.call(MethodPath.getLog, Orchlog_V1_GetLogRequest.with { $0.orchestrationSessionLogID = refusedID })
        #expect(missing.code == .notFound, "a refused append must write nothing")

        server.signal(SIGTERM)
        #expect(server.waitForExit(timeout: 10) == 0)

        // Writable again: a restarted orchlogd takes the append it refused.
        Self.setMode(0o666, database: db)
        let restarted = try OrchlogdProcess(db: db, asNobody: true)
        #expect(!restarted.stderr.contains("read-only"))
        let again = try RawClient(port: restarted.port)
        try again.hello()
        let created = try again.call(MethodPath.appendLog, AppendLogRequest.with { $0.entry = entry(id: refusedID, content: "refused") })
        #expect(created.code == .ok, "\(created.code.name) \(created.message)")
        #expect(try created.decode(AppendLogResponse.self).first?.created == true)
        restarted.signal(SIGTERM)
        #expect(restarted.waitForExit(timeout: 10) == 0)
        #expect(try Self.sqlite(db, "PRAGMA integrity_check") == "ok")
        #expect(try Self.sqlite(db, "SELECT count(*) FROM orchestration_session_log") == "\(stored.count + 1)")
    }

    @Test(
        "a read-only file that another tool left in rollback-journal mode is refused, saying why",
        .enabled(if: geteuid() == 0, "needs root to run orchlogd as nobody, for whom the file mode applies")
    )
    func readOnlyRollbackJournal() throws {
        let directory = TemporaryDirectory()
        chmod(directory.path, 0o777)
        let db = directory.file("journal.db")
        _ = try sqlite3CLI(db, Schema.createTable + ";")
        #expect(try Self.sqlite(db, "PRAGMA journal_mode") == "delete")
        Self.setMode(0o444, database: db)
        let server = try OrchlogdProcess(db: db, waitForListening: false, asNobody: true)
        #expect(server.waitForExit(timeout: 10) == 2)
        #expect(server.stderrContains("the file is read-only, and orchlog serves a read-only file only if it is in WAL journal mode already"), "\(server.stderr)")
    }

    @Test(
        "a full filesystem (a tmpfs with a size limit): appends fail with UNAVAILABLE, nothing acknowledged is lost, and appends resume once it grows",
        .enabled(if: TmpfsMount.isPossible, "needs root to mount a tmpfs")
    )
    func fullFilesystem() throws {
        let directory = TemporaryDirectory()
        let mount = try TmpfsMount(at: directory.file("fs"), sizeKiB: 4096)
        defer { mount.unmount() }
        let db = "\(mount.path)/full.db"
        let content = String(repeating: "x", count: 2000)

        var acknowledged: [String] = []
        var failures: [CallOutcome] = []
        do {
            let server = try OrchlogdProcess(db: db)
            let client = try RawClient(port: server.port)
            try client.hello()
            // Fill it: appends go on until several in a row fail.
            while failures.count < 20 && acknowledged.count < 10_000 {
                let id = LogID.generateV7()
                let outcome = try client.call(MethodPath.appendLog, AppendLogRequest.with { $0.entry = entry(id: id, content: content) })
                if outcome.code == .ok {
                    acknowledged.append(id)
                    failures = []
                } else {
                    failures.append(outcome)
                }
            }
            #expect(acknowledged.count > 50, "the filesystem filled too early to mean anything")
            #expect(failures.count == 20, "the filesystem never filled: \(acknowledged.count) appends")
            #expect(failures.allSatisfy { $0.code == .unavailable }, "\(failures.map { "\($0.code.name) \($0.message)" })")
            for id in acknowledged.suffix(5) {
                let got = try client.call(MethodPath.getLog, Orchlog_V1_GetLogRequest.with { $0.orchestrationSessionLogID = id })
                #expect(got.code == .ok, "an acknowledged entry is unreadable on a full disk: \(got.message)")
            }

            try mount.resize(sizeKiB: 16 * 1024)
            let after = try client.call(MethodPath.appendLog, AppendLogRequest.with { $0.entry = entry(content: content) })
            #expect(after.code == .ok, "\(after.code.name) \(after.message)")
            if after.code == .ok {
                acknowledged.append(try #require(try after.decode(AppendLogResponse.self).first).entry.orchestrationSessionLogID)
            }
            server.signal(SIGTERM)
            #expect(server.waitForExit(timeout: 10) == 0)
        }

        // Restarted on the same file: every acknowledged entry is there exactly once.
        #expect(try Self.sqlite(db, "PRAGMA integrity_check") == "ok")
        let stored = try Self.sqlite(db, "SELECT orchestration_session_log_id FROM orchestration_session_log")
            .split(separator: "\n").map(String.init)
        #expect(stored.count == acknowledged.count)
        #expect(Set(stored) == Set(acknowledged))
    }

    /// What the `sqlite3` tool prints for one statement, without the trailing newline.
    private static func sqlite(_ db: String, _ sql: String) throws -> String {
        try sqlite3CLI(db, sql + ";").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Sets the mode of the database and of its -wal and -shm files, where they exist.
    private static func setMode(_ mode: mode_t, database: String) {
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: database + suffix) {
            chmod(database + suffix, mode)
        }
    }
}

/// A tmpfs of a fixed size mounted on a fresh directory: a filesystem that really fills up.
struct TmpfsMount {
    let path: String

    /// Whether this process may mount (root, with the capability to mount).
    static let isPossible: Bool = {
        guard geteuid() == 0 else { return false }
        let probe = TemporaryDirectory()
        guard let mount = try? TmpfsMount(at: probe.file("probe"), sizeKiB: 64) else { return false }
        mount.unmount()
        return true
    }()

    init(at path: String, sizeKiB: Int) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try Self.run(["mount", "-t", "tmpfs", "-o", "size=\(sizeKiB)k,mode=0777", "tmpfs", path])
        self.path = path
    }

    func resize(sizeKiB: Int) throws {
        try Self.run(["mount", "-o", "remount,size=\(sizeKiB)k", self.path])
    }

    func unmount() {
        try? Self.run(["umount", self.path])
    }

    private static func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw MountError(description: "\(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
        }
    }
}

struct MountError: Error, CustomStringConvertible {
    let description: String
}
