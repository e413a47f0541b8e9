import Foundation
import OrchLogWire

/// A closed loop of unary calls: every connection keeps `inFlight` calls open, and starts the
/// next one as soon as one ends. `inFlight == 1` is lockstep (one worker per connection).
struct CallLoad: Sendable {
    var method: String
    var connections: Int
    var inFlight: Int
    /// Load-generator threads; connections are split evenly between them.
    var threads: Int = 1
    var warmupSeconds: Double
    var seconds: Double
    var port: UInt16
    /// The server's process, whose CPU time the result then reports per call.
    var serverPID: Int32?
    var authToken: String?
    /// The serialized request of the next call on a connection (thread-safe: threads share it).
    var makeRequest: @Sendable (_ connection: Int) -> [UInt8]

    struct Result {
        var ops = 0
        var errors = 0
        var firstError: String?
        var seconds = 0.0
        var latencies = Latencies()
        /// CPU per call over the measured interval (a load run only).
        var cpu: CPUUsage?
        var opsPerSecond: Double { self.seconds > 0 ? Double(self.ops) / self.seconds : 0 }

        /// Runs `operation` back to back for `seconds` on this thread, each run one operation with
        /// its latency: the closed loop of the same-run baselines. Their CPU per operation is this
        /// process's (a ping-pong's two ends are both in it).
        static func lockstep(seconds: Double, capacity: Int, _ operation: () throws -> Void) rethrows -> Result {
            var result = Result(latencies: Latencies(capacity: capacity))
            let before = CPUSample.take(serverPID: nil)
            let start = MonotonicClock.now()
            let end = start + UInt64(seconds * 1e9)
            var now = start
            while now < end {
                try operation()
                let finished = MonotonicClock.now()
                result.latencies.record(finished - now)
                result.ops += 1
                now = finished
            }
            result.seconds = MonotonicClock.seconds(from: start, to: now)
            result.cpu = CPUSample.usage(from: before, to: CPUSample.take(serverPID: nil), operations: result.ops)
            return result
        }

        mutating func merge(_ other: Result) {
            self.ops += other.ops
            self.errors += other.errors
            self.firstError = self.firstError ?? other.firstError
            self.seconds = max(self.seconds, other.seconds)
            self.latencies.merge(other.latencies)
        }
    }

    /// Opens the connections, runs warm-up then the measured interval, and waits for the calls
    /// still open to end (so the next scenario starts on a quiet server).
    func run() throws -> Result {
        let threadCount = max(1, min(self.threads, self.connections))
        var groups: [[LoadConnection]] = Array(repeating: [], count: threadCount)
        for index in 0..<self.connections {
            let group = index % threadCount
            groups[group].append(try LoadConnection(port: self.port, index: groups[group].count, authToken: self.authToken))
        }
        let start = MonotonicClock.now() + UInt64(self.warmupSeconds * 1e9)
        let end = start + UInt64(self.seconds * 1e9)
        let outcomes = ThreadResults<Swift.Result<Result, BenchError>>(count: threadCount)
        let threads = groups.enumerated().map { slot, connections in
            // Each thread owns its connections; nothing in LoadConnection is shared.
            nonisolated(unsafe) let owned = connections
            return Thread {
                do {
                    outcomes.set(slot, .success(try self.drive(owned, measureFrom: start, until: end)))
                } catch let error as BenchError {
                    outcomes.set(slot, .failure(error))
                } catch {
                    outcomes.set(slot, .failure(BenchError("\(error)")))
                }
            }
        }
        threads.forEach { $0.start() }
        // This thread only reads the CPU counters at the measured interval's two ends.
        Self.sleep(until: start)
        let before = CPUSample.take(serverPID: self.serverPID)
        Self.sleep(until: end)
        let after = CPUSample.take(serverPID: self.serverPID)
        var total = Result()
        for outcome in outcomes.wait() {
            total.merge(try outcome.get())
        }
        total.seconds = MonotonicClock.seconds(from: start, to: end)
        total.cpu = CPUSample.usage(from: before, to: after, operations: total.ops)
        return total
    }

    private static func sleep(until deadline: UInt64) {
        let now = MonotonicClock.now()
        if deadline > now { usleep(UInt32((deadline - now) / 1000)) }
    }

    private func drive(_ connections: [LoadConnection], measureFrom start: UInt64, until end: UInt64) throws -> Result {
        let loop = LoadLoop(connections: connections)
        var open: [[UInt32: UInt64]] = Array(repeating: [:], count: connections.count)
        var result = Result(latencies: Latencies(capacity: 1 << 16))
        var stopping = false
        var openCalls = 0

        func startCall(on connection: LoadConnection, at now: UInt64) {
            let callID = connection.start(self.method, request: self.makeRequest(connection.index))
            open[connection.index][callID] = now
            openCalls += 1
        }

        let now = MonotonicClock.now()
        for connection in connections {
            for _ in 0..<self.inFlight { startCall(on: connection, at: now) }
        }
        try loop.run(
            waitMillis: 50,
            onFrame: { connection, frame, now in
                guard frame.kind == RawFrame.end else {
                    if frame.kind == RawFrame.goaway, case .goaway(let goaway) = try frame.decode().kind {
                        throw BenchError("goaway \(goaway.code): \(goaway.message)")
                    }
                    return
                }
                guard let started = open[connection.index].removeValue(forKey: frame.callID) else { return }
                openCalls -= 1
                if started >= start && now <= end {
                    if frame.endCode == 0 {
                        result.ops += 1
                        result.latencies.record(now - started)
                    } else {
                        result.errors += 1
                        if result.firstError == nil, case .end(let ending) = try frame.decode().kind {
                            result.firstError = "\(ending.code): \(ending.message)"
                        }
                    }
                }
                if !stopping { startCall(on: connection, at: now) }
            },
            onTurn: { now in
                if now >= end { stopping = true }
            },
            isDone: { stopping && openCalls == 0 }
        )
        return result
    }
}

/// One result slot per thread, and a wait for all of them.
final class ThreadResults<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var values: [T?]

    init(count: Int) { self.values = Array(repeating: nil, count: count) }

    func set(_ slot: Int, _ value: T) {
        self.condition.lock()
        self.values[slot] = value
        self.condition.broadcast()
        self.condition.unlock()
    }

    func wait() -> [T] {
        self.condition.lock()
        while self.values.contains(where: { $0 == nil }) { self.condition.wait() }
        let values = self.values.map { $0! }
        self.condition.unlock()
        return values
    }
}
