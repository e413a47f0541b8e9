import OrchLogWire

extension Bench {
    /// AppendLog at 1 / 16 / 64 connections in lockstep and 64 calls in flight on one connection,
    /// v7 and v4 ids, against SQLite's own inserts (one row and 64 rows per transaction).
    func appendDurable() throws {
        let server = try self.startServer("append-durable")
        defer { server.stop() }
        let parent = try self.appendRoot(on: try self.connect(server), content: "append-durable")
        for ids in IDKind.allCases {
            var shapes = self.sizes.appendConnections.map { (connections: $0, inFlight: 1) }
            shapes.append((connections: 1, inFlight: self.sizes.pipelinedCalls))
            let requests = AppendRequests(parent: parent, ids: ids)
            for shape in shapes {
                let load = CallLoad(
                    method: MethodPath.appendLog, connections: shape.connections, inFlight: shape.inFlight,
                    threads: self.clientThreads, warmupSeconds: self.sizes.warmupSeconds, seconds: self.sizes.seconds,
                    port: server.port, serverPID: server.pid, makeRequest: { _ in requests.next() }
                )
                let result = try load.run()
                self.report.add(
                    "append-durable/orchlog/\(shape.connections)c-\(shape.inFlight)x/\(ids)", system: "orchlog",
                    label: "orchlog AppendLog \(shape.connections) conn × \(shape.inFlight) in flight, \(ids)",
                    result: result
                )
            }
        }
        let baseline = try SQLiteInserts(path: self.scratchDatabase("sqlite-inserts"), sync: self.sync)
        for rows in [1, 64] {
            let result = try baseline.run(rowsPerTransaction: rows, seconds: self.sizes.sqliteSeconds)
            self.report.add(
                "append-durable/sqlite/\(rows)-per-tx", system: "sqlite",
                label: "SQLite insert, \(rows) row\(rows == 1 ? "" : "s") per transaction (latency per tx)",
                result: result, perOperation: rows
            )
        }
    }

    /// AppendLogs of 100 and 1,000 entries on one connection in lockstep, against SQLite
    /// transactions of the same sizes.
    func appendBatch() throws {
        let server = try self.startServer("append-batch")
        defer { server.stop() }
        let parent = try self.appendRoot(on: try self.connect(server), content: "append-batch")
        let baseline = try SQLiteInserts(path: self.scratchDatabase("sqlite-batches"), sync: self.sync)
        for size in self.sizes.batchSizes {
            let load = CallLoad(
                method: MethodPath.appendLogs, connections: 1, inFlight: 1, warmupSeconds: self.sizes.warmupSeconds,
                seconds: self.sizes.seconds, port: server.port, serverPID: server.pid,
                makeRequest: { _ in
                    Orchlog_V1_AppendLogsRequest.with {
                        $0.entries = (0..<size).map { SampleEntry.child(of: parent, index: $0, ids: .v7) }
                    }.encodedBytes()
                }
            )
            self.report.add(
                "append-batch/orchlog/\(size)", system: "orchlog",
                label: "orchlog AppendLogs of \(size), 1 conn lockstep (latency per batch)", result: try load.run(),
                perOperation: size
            )
            self.report.add(
                "append-batch/sqlite/\(size)", system: "sqlite", label: "SQLite transactions of \(size) rows (latency per tx)",
                result: try baseline.run(rowsPerTransaction: size, seconds: self.sizes.sqliteSeconds), perOperation: size
            )
        }
    }
}
