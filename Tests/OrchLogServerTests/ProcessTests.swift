import Foundation
import OrchLogStore
import OrchLogTestSupport
import OrchLogWire
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `orchlogd` as a real process: signals, exit codes and crashes.
@Suite("orchlogd process", .serialized)
struct ProcessTests {
    @Test("SIGTERM drains with idle and following clients connected, and exits 0")
    func sigtermDrains() throws {
        let directory = TemporaryDirectory()
        let server = try OrchlogdProcess(db: directory.file("d.db"))
        let idle = try RawClient(port: server.port)
        try idle.hello()
        let follower = try RawClient(port: server.port)
        try follower.hello()
        let parent = try follower.append(entry(content: "p")).orchestrationSessionLogID
        let follow = try follower.start(MethodPath.streamChildren, Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent; $0.follow = true })
        #expect(try follower.isQuiet(forMilliseconds: 100))

        let started = Date()
        server.signal(SIGTERM)
        #expect(try follower.collect(follow).code == .unavailable)
        #expect(try idle.expectGoAwayAndClose().code == .unavailable)
        #expect(server.waitForExit(timeout: 10) == 0)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(server.stderrContains("stopped"))
    }

    @Test("kill -9 during concurrent appends loses no acknowledged append")
    func killNineKeepsAcknowledgedAppends() throws {
        let directory = TemporaryDirectory()
        let db = directory.file("k.db")
        let server = try OrchlogdProcess(db: db)
        let acknowledged = Locked<[String]>([])
        let port = server.port
        DispatchQueue.global().asyncAfter(deadline: .now() + 1.0) { server.signal(SIGKILL) }
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            guard let client = try? RawClient(port: port), (try? client.hello()) != nil else { return }
            var i = 0
            while true {
                let id = LogID.generateV7()
                guard (try? client.append(entry(id: id, content: "worker \(worker) #\(i)"))) != nil else { return }
                acknowledged.withLock { $0.append(id) }
                i += 1
            }
        }
        #expect(server.waitForExit(timeout: 10) != nil)
        let acked = acknowledged.withLock { $0 }
        #expect(acked.count > 100, "too few appends before the kill to mean anything: \(acked.count)")

        // Restart on the same file: it opens, and every acknowledged entry is there exactly once.
        let restarted = try OrchlogdProcess(db: db)
        let client = try RawClient(port: restarted.port)
        try client.hello()
        let health = try client.call(MethodPath.health, Orchlog_V1_HealthRequest())
        let count = try #require(try health.decode(Orchlog_V1_HealthResponse.self).first).entryCount
        #expect(count >= UInt64(acked.count))
        let stored = try sqlite3CLI(db, "SELECT orchestration_session_log_id FROM orchestration_session_log;")
            .split(separator: "\n").map(String.init)
        #expect(Set(stored).count == stored.count)
        #expect(Set(acked).isSubset(of: Set(stored)))
        #expect(try sqlite3CLI(db, "PRAGMA integrity_check;").trimmingCharacters(in: .whitespacesAndNewlines) == "ok")
        #expect(try sqlite3CLI(db, "PRAGMA foreign_key_check;").isEmpty)
        restarted.signal(SIGTERM)
        #expect(restarted.waitForExit(timeout: 10) == 0)
    }

    @Test("a database that cannot be opened is a clear message and a non-zero exit")
    func unopenableDatabase() throws {
        let server = try OrchlogdProcess(db: "/nonexistent-dir/x.db", waitForListening: false)
        #expect(server.waitForExit(timeout: 10) == 2)
        #expect(server.stderrContains("cannot open database /nonexistent-dir/x.db"))
    }

    @Test("a table with other columns is refused with a non-zero exit")
    func wrongTable() throws {
        let directory = TemporaryDirectory()
        let db = directory.file("w.db")
        try sqlite3CLI(db, "CREATE TABLE orchestration_session_log (id TEXT, content TEXT);")
        let server = try OrchlogdProcess(db: db, waitForListening: false)
        #expect(server.waitForExit(timeout: 10) == 2)
        #expect(server.stderrContains("expected exactly"))
    }

    @Test("an empty --auth-token-file is refused; a non-loopback address without a token is warned about")
    func authTokenFlags() throws {
        let directory = TemporaryDirectory()
        let empty = directory.file("empty-token")
        #expect(FileManager.default.createFile(atPath: empty, contents: Data("\n".utf8)))
        let refused = try OrchlogdProcess(db: directory.file("a.db"), arguments: ["--auth-token-file", empty], waitForListening: false)
        #expect(refused.waitForExit(timeout: 10) == 2)
        #expect(refused.stderrContains("is empty"))

        let open = try OrchlogdProcess(db: directory.file("b.db"), arguments: ["--listen", "0.0.0.0:0"], waitForListening: false)
        #expect(open.stderrContains("without --auth-token-file", within: 20))
        #expect(open.stderrContains("listening on", within: 20))
        open.signal(SIGTERM)
        #expect(open.waitForExit(timeout: 10) == 0)
    }

    @Test("a port in use is exit 3, and removes the database file that run created, not one it found")
    func portInUse() throws {
        let directory = TemporaryDirectory()
        let first = try OrchlogdProcess(db: directory.file("first.db"))
        let fresh = directory.file("fresh.db")
        let refused = try OrchlogdProcess(db: fresh, port: first.port, waitForListening: false)
        #expect(refused.waitForExit(timeout: 10) == 3)
        #expect(refused.stderrContains("cannot listen on"))
        for suffix in ["", "-wal", "-shm"] { #expect(!FileManager.default.fileExists(atPath: fresh + suffix), "\(suffix)") }

        let kept = directory.file("kept.db")
        try sqlite3CLI(kept, Schema.createTable + ";")
        let refusedAgain = try OrchlogdProcess(db: kept, port: first.port, waitForListening: false)
        #expect(refusedAgain.waitForExit(timeout: 10) == 3)
        #expect(FileManager.default.fileExists(atPath: kept))
        first.signal(SIGTERM)
        #expect(first.waitForExit(timeout: 10) == 0)
    }

    @Test("the smallest frame leaves half of it for content by default")
    func contentLimitOfTheSmallestFrame() throws {
        let directory = TemporaryDirectory()
        let server = try OrchlogdProcess(db: directory.file("small.db"), arguments: ["--max-frame-bytes", "65536"])
        let client = try RawClient(port: server.port)
        try client.hello()
        #expect(try client.append(entry(content: String(repeating: "x", count: 32768))).content.utf8.count == 32768)
        let over = try client.call(MethodPath.appendLog, AppendLogRequest.with { $0.entry = entry(content: String(repeating: "x", count: 32769)) })
        #expect(over.code == .invalidArgument && over.message.contains("limit of 32768 bytes"), "\(over.message)")
        server.signal(SIGTERM)
        #expect(server.waitForExit(timeout: 10) == 0)
    }

    @Test("bad flags are a usage error naming the flag")
    func badFlags() throws {
        let server = try OrchlogdProcess(db: "/tmp/unused.db", arguments: ["--listen", "nowhere"], waitForListening: false)
        #expect(server.waitForExit(timeout: 10) == 64)
        #expect(server.stderrContains("--listen"))
        let noFile = try OrchlogdProcess(db: "", waitForListening: false)
        #expect(noFile.waitForExit(timeout: 10) == 64)
        #expect(noFile.stderrContains("--db must name a file"))
    }
}
