import Foundation
import OrchLogWire

extension Bench {
    /// orchlogd's resident memory: idle; holding many idle connections; and while followers that
    /// never read hold their streams open as many children are appended (the server must stop
    /// at its watermarks instead of buffering for them).
    func memory() throws {
        guard self.externalPort == nil else {
            return self.report.skip("memory: needs a server the bench started (not --server)")
        }
        let server = try self.startServer("memory")
        defer { server.stop() }
        let settle = { Thread.sleep(forTimeInterval: self.sizes.seconds >= 1 ? 0.5 : 0.05) }
        settle()
        guard let idle = server.memory else { throw BenchError("cannot read orchlogd's memory from /proc") }
        self.report.add(Measurement(
            key: "memory/orchlog/idle", scenario: "memory", system: "orchlog", label: "orchlogd RSS, idle",
            value: idle.rss, unit: "MiB"
        ))

        var connections: [LoadConnection] = []
        for index in 0..<self.sizes.idleConnections {
            connections.append(try LoadConnection(port: server.port, index: index))
        }
        settle()
        let held = server.memory ?? idle
        self.report.add(Measurement(
            key: "memory/orchlog/idle-connections", scenario: "memory", system: "orchlog",
            label: "orchlogd RSS, \(self.sizes.idleConnections) idle connections", value: held.rss, unit: "MiB",
            notes: String(format: "+%.1f MiB over idle, %.1f KiB per connection", held.rss - idle.rss,
                          (held.rss - idle.rss) * 1024 / Double(max(1, self.sizes.idleConnections)))
        ))
        connections.removeAll()
        settle()

        let before = server.memory ?? held
        let writer = try self.connect(server)
        let parent = try self.appendRoot(on: writer, content: "memory")
        let follow = Orchlog_V1_StreamChildrenRequest.with {
            $0.parentExecID = parent
            $0.follow = true
        }.encodedBytes()
        for index in 0..<self.sizes.silentFollowers {
            let follower = try LoadConnection(port: server.port, index: index)
            _ = follower.start(MethodPath.streamChildren, request: follow)
            guard try follower.flush() else { throw BenchError("follower \(index) closed") }
            connections.append(follower)  // held open, never read
        }
        try self.appendAll(
            (0..<self.sizes.silentChildren).map { SampleEntry.child(of: parent, index: $0, ids: .v7) }, on: writer
        )
        settle()
        let loaded = server.memory ?? before
        self.report.add(Measurement(
            key: "memory/orchlog/silent-followers", scenario: "memory", system: "orchlog",
            label: "added by \(self.sizes.silentFollowers) never-reading followers, \(self.sizes.silentChildren) children appended",
            value: loaded.rss - before.rss, unit: "MiB",
            notes: String(format: "RSS %.1f MiB, peak %.1f MiB", loaded.rss, loaded.peak)
        ))
        // The server still serves others while they hold on.
        let health = try self.connect(server).unary(
            MethodPath.health, Orchlog_V1_HealthRequest(), as: Orchlog_V1_HealthResponse.self
        )
        if health.entryCount < UInt64(self.sizes.silentChildren) {
            self.report.fail("memory: Health counts \(health.entryCount) entries after \(self.sizes.silentChildren) appends")
        }
    }

    /// Time from launching orchlogd to its `listening on` line over an existing database of many
    /// rows that another tool wrote (first open builds orchlog's indexes; later opens do not).
    func startup() throws {
        guard self.externalPort == nil else {
            return self.report.skip("startup: needs a server the bench started (not --server)")
        }
        let path = self.scratchDatabase("startup")
        let (_, fillSeconds) = try self.time { try SQLiteFill.tree(path: path, rows: self.sizes.startupRows) }
        print("  (filled \(self.sizes.startupRows) rows with plain SQLite in \(String(format: "%.1f", fillSeconds)) s)")
        var opens: [Double] = []
        for _ in 0..<(self.sizes.readRepeats + 1) {
            let server = try self.startServer("startup", database: path)
            guard let nanos = server.process?.startupNanoseconds else { throw BenchError("no start-up time") }
            opens.append(Double(nanos) / 1e6)
            let health = try self.connect(server).unary(
                MethodPath.health, Orchlog_V1_HealthRequest(), as: Orchlog_V1_HealthResponse.self
            )
            if health.entryCount != UInt64(self.sizes.startupRows) {
                self.report.fail("startup: Health counts \(health.entryCount) of \(self.sizes.startupRows) rows")
            }
            server.stop()
        }
        self.report.add(Measurement(
            key: "startup/orchlog/first-open", scenario: "startup", system: "orchlog",
            label: "first open of \(self.sizes.startupRows) rows (builds orchlog's 2 indexes)", value: opens[0], unit: "ms"
        ))
        let later = opens.dropFirst().sorted()
        self.report.add(Measurement(
            key: "startup/orchlog/open", scenario: "startup", system: "orchlog",
            label: "start-up over \(self.sizes.startupRows) rows, to `listening on`", value: later[later.count / 2],
            unit: "ms", notes: "median of \(later.count)"
        ))
    }
}
