import Foundation
import OrchLogClient
import OrchLogTestSupport
import Testing

/// The `orchlog` command line, run as a process against a live server.
@Suite("orchlog CLI")
struct CLITests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func orchlog(_ arguments: [String], server: UInt16?) throws -> Run {
        let process = Process()
        process.executableURL = builtProduct("orchlog", environment: "ORCHLOG_CLI")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["ORCHLOG_SERVER"] = server.map { "127.0.0.1:\($0)" }
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    func id(fromJSON text: String) throws -> String {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        return try #require(object?["orchestration_session_log_id"] as? String)
    }

    @Test("append, get, children, tree and health against a live server")
    func commands() throws {
        let server = try RestartableServer()
        let port = server.port
        let root = try self.orchlog(["append", "session started", "--category", "note", "--json"], server: port)
        #expect(root.status == 0, "\(root.stderr)")
        let rootID = try self.id(fromJSON: root.stdout)
        let fetch = try self.id(fromJSON: try self.orchlog(["append", "fetch inputs", "--parent", rootID, "--category", "step", "--json"], server: port).stdout)
        let retry = try self.orchlog(["append", "retrying download\nsecond line", "--parent", fetch, "--category", "warning"], server: port)
        #expect(retry.status == 0)
        #expect(retry.stdout.contains("[warning] retrying download …"))
        let build = try self.orchlog(["append", "build", "--parent", rootID, "--category", "step", "--elaboration", "{\"target\":\"all\"}", "--order", "5"], server: port)
        #expect(build.status == 0)
        _ = try self.orchlog(["append", "no category", "--parent", rootID], server: port)

        let tree = try self.orchlog(["tree", rootID], server: port)
        #expect(tree.status == 0)
        #expect(tree.stdout == """
            [note] session started
            ├── [step] fetch inputs
            │   └── [warning] retrying download …
            ├── [step] build
            └── no category

            """)
        let shallow = try self.orchlog(["tree", rootID, "--depth", "1", "--json"], server: port)
        let depths = shallow.stdout.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["depth"] as? Int
        }
        #expect(depths == [0, 1, 1, 1])

        let children = try self.orchlog(["children", rootID], server: port)
        #expect(children.stdout.split(separator: "\n").count == 3)
        #expect(children.stdout.contains("[step] fetch inputs"))
        let roots = try self.orchlog(["children", "--json"], server: port)
        #expect(try self.id(fromJSON: String(roots.stdout.split(separator: "\n")[0])) == rootID)

        let get = try self.orchlog(["get", fetch], server: port)
        #expect(get.stdout.contains("content:      fetch inputs"))
        #expect(get.stdout.contains("parent:       \(rootID)"))
        let getJSON = try JSONSerialization.jsonObject(with: Data(try self.orchlog(["get", rootID, "--json"], server: port).stdout.utf8)) as? [String: Any]
        #expect(getJSON?["parent_exec_id"] is NSNull)
        #expect(getJSON?["seq"] as? Int == 1)

        let health = try self.orchlog(["health", "--json"], server: port)
        let healthJSON = try JSONSerialization.jsonObject(with: Data(health.stdout.utf8)) as? [String: Any]
        #expect(healthJSON?["entry_count"] as? Int == 5)
        #expect(healthJSON?["status"] as? String == "SERVING")
    }

    /// The scalars a terminal could act on: C0 controls other than the newline ending a line,
    /// DEL and C1 controls.
    func rawControls(_ text: String) -> [String] {
        text.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n") || (0x7F...0x9F).contains($0.value) }
            .map { String(format: "U+%04X", $0.value) }
    }

    /// Entries whose content, category and elaboration hold CR LF, LF, ESC sequences, a C1 CSI and DEL.
    static let hostile: [(content: String, category: String, elaboration: String?)] = [
        ("first line\r\nsecond line\r\nthird", "cr\r\nlf", nil),
        ("lf only\nsecond", "note\n99  00000000-0000-0000-0000-000000000000  [error] injected", nil),
        ("\u{1B}]0;PWNED\u{07}\u{1B}[2J cleared", "\u{1B}[31mred", nil),
        ("c1 \u{9B}31m and del \u{7F} end", "c1\u{9B}del\u{7F}", "{\"k\": \"del\u{7F} c1\u{9B}\",\r\n \"n\": 1}"),
    ]

    @Test("control characters are escaped in human output, one line per entry, and exact in --json")
    func controlCharacters() throws {
        let server = try RestartableServer()
        let port = server.port
        let root = try self.id(fromJSON: try self.orchlog(["append", "root", "--category", "note", "--json"], server: port).stdout)
        var ids: [String] = []
        for entry in Self.hostile {
            let extra = entry.elaboration.map { ["--elaboration", $0] } ?? []
            let append = try self.orchlog(["append", entry.content, "--parent", root, "--category", entry.category] + extra, server: port)
            #expect(append.status == 0, "\(append.stderr)")
            #expect(append.stdout.split(separator: "\n").count == 1, "\(append.stdout)")
            #expect(self.rawControls(append.stdout).isEmpty, "\(append.stdout)")
            let id = try #require(append.stdout.split(separator: " ").dropFirst().first.map(String.init))
            ids.append(id)
        }

        let children = try self.orchlog(["children", root], server: port)
        #expect(children.status == 0)
        #expect(self.rawControls(children.stdout).isEmpty, "\(children.stdout)")
        #expect(children.stdout.split(separator: "\n", omittingEmptySubsequences: false) == [
            "2  \(ids[0])  [cr\\r\\nlf] first line …",
            "3  \(ids[1])  [note\\n99  00000000-0000-0000-0000-000000000000  [error] injected] lf only …",
            "4  \(ids[2])  [\\x1b[31mred] \\x1b]0;PWNED\\x07\\x1b[2J cleared",
            "5  \(ids[3])  [c1\\x9bdel\\x7f] c1 \\x9b31m and del \\x7f end",
            "",
        ])

        let tree = try self.orchlog(["tree", root], server: port)
        #expect(tree.status == 0)
        #expect(self.rawControls(tree.stdout).isEmpty, "\(tree.stdout)")
        #expect(tree.stdout == """
            [note] root
            ├── [cr\\r\\nlf] first line …
            ├── [note\\n99  00000000-0000-0000-0000-000000000000  [error] injected] lf only …
            ├── [\\x1b[31mred] \\x1b]0;PWNED\\x07\\x1b[2J cleared
            └── [c1\\x9bdel\\x7f] c1 \\x9b31m and del \\x7f end

            """)

        // `get`: one line per field; the lines of content and elaboration indented under the first.
        let fields = ["id:", "seq:", "parent:", "category:", "order:", "elaboration:", "content:"]
        for id in ids {
            let get = try self.orchlog(["get", id], server: port)
            #expect(get.status == 0)
            #expect(self.rawControls(get.stdout).isEmpty, "\(get.stdout)")
            let lines = get.stdout.split(separator: "\n")
            #expect(lines.filter { line in fields.contains { line.hasPrefix($0) } }.count == fields.count, "\(get.stdout)")
            #expect(lines.allSatisfy { line in fields.contains { line.hasPrefix($0) } || line.hasPrefix(String(repeating: " ", count: 14)) })
        }
        let first = try self.orchlog(["get", ids[0]], server: port).stdout
        #expect(first.contains("category:     cr\\r\\nlf\n"))
        #expect(first.hasSuffix("content:      first line\n              second line\n              third\n"))
        let last = try self.orchlog(["get", ids[3]], server: port).stdout
        #expect(last.contains("elaboration:  {\"k\": \"del\\x7f c1\\x9b\",\n               \"n\": 1}\n"))

        // --json: exact strings back, in every read command, and still no raw control on the terminal.
        let childrenJSON = try self.orchlog(["children", root, "--json"], server: port)
        let treeJSON = try self.orchlog(["tree", root, "--json"], server: port)
        #expect(self.rawControls(childrenJSON.stdout + treeJSON.stdout).isEmpty)
        let objects = try (childrenJSON.stdout.split(separator: "\n") + treeJSON.stdout.split(separator: "\n").dropFirst()).map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.count == 2 * Self.hostile.count)
        for (index, object) in objects.enumerated() {
            let entry = Self.hostile[index % Self.hostile.count]
            #expect(object["content"] as? String == entry.content)
            #expect(object["category"] as? String == entry.category)
            #expect(object["elaboration"] as? String == entry.elaboration)
        }
        for (id, entry) in zip(ids, Self.hostile) {
            let get = try self.orchlog(["get", id, "--json"], server: port)
            #expect(self.rawControls(get.stdout).isEmpty)
            let object = try JSONSerialization.jsonObject(with: Data(get.stdout.utf8)) as? [String: Any]
            #expect(object?["content"] as? String == entry.content)
            #expect(object?["category"] as? String == entry.category)
        }

        // An id echoed in a usage error is escaped too.
        let malformed = try self.orchlog(["get", "x\u{1B}[2J\u{9B}"], server: port)
        #expect(malformed.status == 64)
        #expect(malformed.stderr.contains("\"x\\x1b[2J\\x9b\" is not a UUID"))
        #expect(self.rawControls(malformed.stderr).isEmpty, "\(malformed.stderr)")
    }

    @Test("--timeout must be finite, above 0 and at most 4294967 s; exit 64 otherwise", arguments: ["inf", "nan", "-1", "0", "1e16", "4294967.5"])
    func invalidTimeout(value: String) throws {
        let server = try RestartableServer()
        for command in [["health"], ["children"]] {
            let run = try self.orchlog(command + ["--timeout=\(value)"], server: server.port)
            #expect(run.status == 64, "\(command) --timeout=\(value): \(run.stderr)")
            #expect(run.stderr.contains("--timeout"), "\(run.stderr)")
        }
        // The spelling with a space: ArgumentParser takes "-1" for an option, still a usage error.
        let spaced = try self.orchlog(["health", "--timeout", value], server: server.port)
        #expect(spaced.status == 64)
        #expect(spaced.stderr.contains("--timeout"))
    }

    @Test("a large valid --timeout works")
    func largeTimeout() throws {
        let server = try RestartableServer()
        for value in ["86400", "4294967"] {
            let health = try self.orchlog(["health", "--timeout", value], server: server.port)
            #expect(health.status == 0, "\(health.stderr)")
            #expect(health.stdout.hasPrefix("SERVING"))
            let children = try self.orchlog(["children", "--timeout", value], server: server.port)
            #expect(children.status == 0, "\(children.stderr)")
        }
    }

    @Test("--limit and --depth must fit the protocol's uint32; exit 64 otherwise")
    func countBounds() throws {
        let server = try RestartableServer()
        let port = server.port
        let root = try self.id(fromJSON: try self.orchlog(["append", "root", "--json"], server: port).stdout)
        _ = try self.orchlog(["append", "child", "--parent", root], server: port)
        for arguments in [["children", "--limit=4294967296"], ["children", "--limit=-1"], ["tree", root, "--depth=4294967296"], ["tree", root, "--depth=-1"]] {
            let run = try self.orchlog(arguments, server: port)
            let flag = String(arguments.last!.prefix { $0 != "=" })
            #expect(run.status == 64, "\(arguments): \(run.stdout) \(run.stderr)")
            #expect(run.stderr.contains(flag), "\(run.stderr)")
        }
        let most = try self.orchlog(["children", "--limit", "4294967295"], server: port)
        #expect(most.status == 0)
        #expect(most.stdout.split(separator: "\n").count == 1)
        let deepest = try self.orchlog(["tree", root, "--depth", "4294967295"], server: port)
        #expect(deepest.status == 0)
        #expect(deepest.stdout == "root\n└── child\n")
    }

    @Test("--server wins over ORCHLOG_SERVER")
    func serverFlag() throws {
        let server = try RestartableServer()
        let run = try self.orchlog(["health", "--server", "127.0.0.1:\(server.port)"], server: 1)
        #expect(run.status == 0)
        #expect(run.stdout.hasPrefix("SERVING"))
    }

    @Test("exit codes: 64 for a malformed id, 2 for a server error status, 3 for a server that is down")
    func exitCodes() throws {
        let server = try RestartableServer()
        let malformed = try self.orchlog(["get", "not-a-uuid"], server: server.port)
        #expect(malformed.status == 64)
        #expect(malformed.stderr.contains("not a UUID"))

        let unknown = try self.orchlog(["get", UUID.v7().uuidString], server: server.port)
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("NOT_FOUND"))

        let orphan = try self.orchlog(["append", "x", "--parent", UUID.v7().uuidString], server: server.port)
        #expect(orphan.status == 2)
        #expect(orphan.stderr.contains("FAILED_PRECONDITION"))

        // A server that accepts but does not answer within --timeout: 3, as one that is down.
        let proxy = try FaultProxy(targetPort: server.port)
        defer { proxy.stop() }
        proxy.mode = .delay(milliseconds: 10_000)
        let silent = try self.orchlog(["health", "--timeout", "1"], server: proxy.port)
        #expect(silent.status == 3)
        #expect(silent.stderr.contains("DEADLINE_EXCEEDED"))

        let port = server.port
        server.stop()
        let down = try self.orchlog(["health"], server: port)
        #expect(down.status == 3)
        #expect(down.stderr.contains("UNAVAILABLE"))
    }
}
