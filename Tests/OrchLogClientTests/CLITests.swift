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

        let port = server.port
        server.stop()
        let down = try self.orchlog(["health"], server: port)
        #expect(down.status == 3)
        #expect(down.stderr.contains("UNAVAILABLE"))
    }
}
