import Foundation
import OrchLogWire

extension Bench {
    /// GetTree of a full tree (fan-out × depth, ~111k nodes at full size) to the last node at
    /// the client, against the same preorder by one recursive CTE on the same file.
    func tree() throws {
        let server = try self.startServer("tree")
        defer { server.stop() }
        let connection = try self.connect(server)
        let root = try self.appendRoot(on: connection, content: "tree")
        var level = [root]
        for depth in 1...self.sizes.treeDepth {
            let entries = level.flatMap { parent in
                (0..<self.sizes.treeFanOut).map { _ in SampleEntry.child(of: parent, index: depth, ids: .v7) }
            }
            level = try self.appendAll(entries, on: connection).map(\.orchestrationSessionLogID)
        }
        let request = Orchlog_V1_GetTreeRequest.with { $0.rootID = root }
        try self.compareReads(
            key: "tree", label: "GetTree of \(self.sizes.treeNodes) nodes", baselineLabel: "recursive CTE, same order",
            server: server, expectedCount: self.sizes.treeNodes,
            orchlog: {
                var ids: [String] = []
                try connection.call(MethodPath.getTree, request) { payload, _ in
                    ids.append(try Orchlog_V1_TreeNode(serializedBytes: payload).entry.orchestrationSessionLogID)
                }
                return ids
            },
            baseline: { try $0.treePreorder(root: root) }
        )
    }

    /// StreamChildren's backlog of a parent with many children, against one indexed SELECT.
    func children() throws {
        let server = try self.startServer("children")
        defer { server.stop() }
        let connection = try self.connect(server)
        let parent = try self.appendRoot(on: connection, content: "children")
        try self.appendAll(
            (0..<self.sizes.children).map { SampleEntry.child(of: parent, index: $0, ids: .v7) }, on: connection
        )
        let request = Orchlog_V1_StreamChildrenRequest.with { $0.parentExecID = parent }
        try self.compareReads(
            key: "children", label: "StreamChildren backlog of \(self.sizes.children)",
            baselineLabel: "SELECT … WHERE parent_exec_id=? ORDER BY rowid", server: server,
            expectedCount: self.sizes.children,
            orchlog: {
                var ids: [String] = []
                try connection.call(MethodPath.streamChildren, request) { payload, _ in
                    ids.append(try Orchlog_V1_LogEntry(serializedBytes: payload).orchestrationSessionLogID)
                }
                return ids
            },
            baseline: { try $0.children(of: parent) }
        )
    }

    /// Times both reads `readRepeats` times, alternating, and reports the medians; the two must
    /// return the same ids in the same order.
    private func compareReads(
        key: String, label: String, baselineLabel: String, server: ServerUnderTest, expectedCount: Int,
        orchlog: () throws -> [String], baseline: (SQLiteReads) throws -> [String]
    ) throws {
        guard let path = server.databasePath else {
            // An external server's file is not ours to open; its figure is reported alone.
            self.report.skip("\(key) baseline: needs the database file of a server the bench started")
            return self.reportRead(key: key, system: "orchlog", label: "orchlog \(label)", times: [try self.time(orchlog).seconds], count: expectedCount)
        }
        let reads = try SQLiteReads(path: path)
        var serverTimes: [Double] = [], baselineTimes: [Double] = []
        var serverCPU: [CPUUsage] = [], baselineCPU: [CPUUsage] = []
        for _ in 0..<self.sizes.readRepeats {
            let beforeServed = CPUSample.take(serverPID: server.pid)
            let (served, serverSeconds) = try self.time(orchlog)
            let beforeSelected = CPUSample.take(serverPID: server.pid)
            let (selected, baselineSeconds) = try self.time { try baseline(reads) }
            let afterSelected = CPUSample.take(serverPID: server.pid)
            serverTimes.append(serverSeconds)
            baselineTimes.append(baselineSeconds)
            if let usage = CPUSample.usage(from: beforeServed, to: beforeSelected, operations: expectedCount) {
                serverCPU.append(usage)
            }
            if var usage = CPUSample.usage(from: beforeSelected, to: afterSelected, operations: expectedCount) {
                // The server is idle meanwhile; what it used is not the baseline's.
                usage.serverMicrosPerOp = nil
                usage.serverKernelMicrosPerOp = nil
                baselineCPU.append(usage)
            }
            if served.count != expectedCount || served != selected {
                self.report.fail(
                    "\(key): orchlog sent \(served.count) entries, SQL found \(selected.count), expected \(expectedCount)"
                        + (served.count == selected.count ? ", in a different order" : "")
                )
                break
            }
        }
        self.reportRead(
            key: key, system: "orchlog", label: "orchlog \(label)", times: serverTimes, count: expectedCount,
            cpu: CPUUsage.mean(serverCPU)
        )
        self.reportRead(
            key: key, system: "sqlite", label: baselineLabel, times: baselineTimes, count: expectedCount,
            cpu: CPUUsage.mean(baselineCPU)
        )
    }

    func time<T>(_ body: () throws -> T) throws -> (T, seconds: Double) {
        let start = MonotonicClock.now()
        let value = try body()
        return (value, MonotonicClock.seconds(from: start, to: MonotonicClock.now()))
    }

    private func reportRead(key: String, system: String, label: String, times: [Double], count: Int, cpu: CPUUsage? = nil) {
        let median = times.sorted()[times.count / 2]
        self.report.add(Measurement(
            key: "\(key)/\(system)", scenario: key, system: system, label: label, value: median * 1000, unit: "ms",
            operations: count, cpu: cpu,
            notes: "median of \(times.count); \(Report.number(Double(count) / median)) entries/s"
        ))
    }
}
