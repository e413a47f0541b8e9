import Foundation
import OrchLogClient
import OrchLogTestSupport
import OrchLogWire
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `kill -9` of a real orchlogd at random moments while Swift clients keep appending (with their
/// retries): acknowledged means durable, exactly once, with an intact file.
@Suite("Crash cycles", .serialized)
struct CrashCycleTests {
    /// Acknowledged entries and their parents, shared by the workers.
    final class Ledger: Sendable {
        let acknowledged = Locked<[UUID: UUID?]>([:])
        let stop = Atomic<Bool>(false)
        var count: Int { self.acknowledged.withLock { $0.count } }
    }

    @Test("kill -9 under concurrent appends, N cycles (ORCHLOG_SOAK_CYCLES, default 5): every acknowledged entry once, file intact")
    func crashCycles() async throws {
        let cycles = ProcessInfo.processInfo.environment["ORCHLOG_SOAK_CYCLES"].flatMap(Int.init) ?? 5
        let directory = TemporaryDirectory()
        let db = directory.file("crash.db")
        var server = try OrchlogdProcess(db: db)
        let port = server.port

        var configuration = OrchLogClient.Configuration()
        configuration.connectionBackoff = ConnectionBackoff(initial: .milliseconds(20), max: .milliseconds(200), minConnectTimeout: .seconds(2))
        configuration.retryPolicy = RetryPolicy(maxAttempts: 5, initialBackoff: .milliseconds(50), maxBackoff: .milliseconds(500))
        configuration.retryThrottle = RetryThrottle(maxTokens: 1000, tokenRatio: 1)
        configuration.defaultTimeout = .seconds(30)
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(port), configuration: configuration)
        let ledger = Ledger()

        let workers = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        var recent: [UUID] = []
                        var i = 0
                        while !ledger.stop.load(ordering: .relaxed) {
                            // Half the entries are children of an acknowledged one (foreign keys).
                            let parent = i % 2 == 0 ? recent.randomElement() : nil
                            let entry = LogEntry(content: "worker \(worker) #\(i)", category: "crash", parentID: parent)
                            i += 1
                            guard (try? await client.appendLog(entry)) != nil else { continue }
                            ledger.acknowledged.withLock { $0[entry.id] = parent }
                            recent.append(entry.id)
                            if recent.count > 16 { recent.removeFirst() }
                        }
                    }
                }
            }
        }

        var ackedPerCycle: [Int] = []
        var firstAckWaits: [Duration] = []
        for _ in 0..<cycles {
            let before = ledger.count
            // Each kill comes at a random moment after the server's first acknowledgement of the
            // cycle: a first start next to other tests can take longer than the random wait.
            let started = ContinuousClock.now
            while ledger.count == before && ContinuousClock.now - started < .seconds(20) {
                try await Task.sleep(for: .milliseconds(5))
            }
            firstAckWaits.append(ContinuousClock.now - started)
            try await Task.sleep(for: .milliseconds(Int.random(in: 20...400)))
            server.signal(SIGKILL)
            #expect(server.waitForExit(timeout: 10) != nil)
            ackedPerCycle.append(ledger.count - before)
            server = try OrchlogdProcess(db: db, port: port)
        }
        try await Task.sleep(for: .milliseconds(300))
        ledger.stop.store(true, ordering: .relaxed)
        await workers.value
        await client.close()

        #expect(ackedPerCycle.allSatisfy { $0 > 0 }, "appends acknowledged in every cycle: \(ackedPerCycle)")
        let acknowledged = ledger.acknowledged.withLock { $0 }
        let rows = try sqlite3CLI(db, "SELECT orchestration_session_log_id, ifnull(parent_exec_id, '-') FROM orchestration_session_log;")
            .split(separator: "\n").map { $0.split(separator: "|").map(String.init) }
        var stored: [String: String] = [:]
        for row in rows where row.count == 2 {
            #expect(stored[row[0]] == nil, "duplicate id \(row[0])")
            stored[row[0]] = row[1]
        }
        for (id, parent) in acknowledged {
            let key = id.uuidString.lowercased()
            #expect(stored[key] != nil, "acknowledged entry \(key) lost")
            #expect(stored[key] == (parent?.uuidString.lowercased() ?? "-"))
        }
        #expect(try sqlite3CLI(db, "PRAGMA integrity_check;").trimmingCharacters(in: .whitespacesAndNewlines) == "ok")
        #expect(try sqlite3CLI(db, "PRAGMA foreign_key_check;").isEmpty)
        let waits = firstAckWaits.map { "\(Int(($0 / .milliseconds(1)).rounded())) ms" }.joined(separator: ", ")
        print("crash cycles: \(cycles) kills, \(acknowledged.count) acknowledged, \(stored.count) stored, lost 0 expected; first acknowledgement of each cycle after \(waits)")

        server.signal(SIGTERM)
        #expect(server.waitForExit(timeout: 10) == 0)
    }
}
