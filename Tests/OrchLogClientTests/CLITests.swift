import Foundation
import OrchLogClient
import OrchLogTestSupport
import Testing

/// A pseudo-terminal: the controller's and the terminal's descriptors. The pty calls are looked
/// up at run time because the Glibc module leaves them out (they need `_XOPEN_SOURCE`).
private func openPseudoTerminal() -> (controller: Int32, terminal: Int32)? {
    func libc<F>(_ name: String, _ type: F.Type) -> F? {
        dlsym(nil, name).map { unsafeBitCast($0, to: F.self) }
    }
    typealias OnDescriptor = @convention(c) (Int32) -> Int32
    typealias NameOf = @convention(c) (Int32, UnsafeMutablePointer<CChar>, Int) -> Int32
    guard let openpt = libc("posix_openpt", OnDescriptor.self), let grantpt = libc("grantpt", OnDescriptor.self),
          let unlockpt = libc("unlockpt", OnDescriptor.self), let ptsname = libc("ptsname_r", NameOf.self)
    else { return nil }
    let controller = openpt(O_RDWR | O_NOCTTY)
    guard controller >= 0 else { return nil }
    var name = [CChar](repeating: 0, count: 256)
    guard grantpt(controller) == 0, unlockpt(controller) == 0, ptsname(controller, &name, name.count) == 0 else {
        close(controller)
        return nil
    }
    let terminal = open(name, O_RDWR | O_NOCTTY)
    guard terminal >= 0 else {
        close(controller)
        return nil
    }
    return (controller, terminal)
}

/// The `orchlog` command line, run as a process against a live server.
@Suite("orchlog CLI")
struct CLITests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `orchlog` with `arguments`, `$ORCHLOG_SERVER` pointing at `server`, and `environment`
    /// on top of this process's (nil: unset); `$NO_COLOR` and `$ORCHLOG_AUTH_TOKEN_FILE` are unset
    /// unless given. A run still going after `timeLimit` seconds is terminated (status 15).
    func orchlog(
        _ arguments: [String], server: UInt16?, environment: [String: String?] = [:], timeLimit: TimeInterval = 60
    ) throws -> Run {
        try self.run(builtProduct("orchlog", environment: "ORCHLOG_CLI").path, arguments, server: server, environment: environment, timeLimit: timeLimit)
    }

    private func run(
        _ executable: String, _ arguments: [String], server: UInt16?, environment: [String: String?], timeLimit: TimeInterval = 60
    ) throws -> Run {
        let process = self.process(executable, arguments, server: server, environment: environment)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let watchdog = self.watchdog(process, after: timeLimit)
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Runs the shell command `script`, in which `"$ORCHLOG"` is the CLI, so its arguments and
    /// environment can hold any bytes (`"$(printf '\\377')"`): Foundation's `Process` passes only UTF-8.
    func orchlog(shell script: String, server: UInt16?) throws -> Run {
        let orchlog = builtProduct("orchlog", environment: "ORCHLOG_CLI").path
        return try self.run("/bin/sh", ["-c", script], server: server, environment: ["ORCHLOG": orchlog])
    }

    /// The stdout of `orchlog` run with a pseudo-terminal as its stdout (the CLI colours only there).
    func orchlogOnTerminal(_ arguments: [String], server: UInt16, environment: [String: String?] = [:]) throws -> String {
        let (master, terminal) = try #require(openPseudoTerminal())
        defer { close(master) }
        let handle = FileHandle(fileDescriptor: terminal, closeOnDealloc: false)
        let process = self.process(builtProduct("orchlog", environment: "ORCHLOG_CLI").path, arguments, server: server, environment: environment)
        process.standardOutput = handle
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            close(terminal)
            throw error
        }
        // Only the child holds the terminal now, so reading ends (EIO) once it has exited.
        close(terminal)
        let watchdog = self.watchdog(process, after: 60)
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(master, &buffer, buffer.count)
            if count <= 0 { break }
            output += buffer[..<count]
        }
        process.waitUntilExit()
        watchdog.cancel()
        #expect(process.terminationStatus == 0)
        return String(decoding: output, as: UTF8.self)
    }

    private func process(_ executable: String, _ arguments: [String], server: UInt16?, environment overrides: [String: String?]) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["ORCHLOG_SERVER"] = server.map { "127.0.0.1:\($0)" }
        environment["ORCHLOG_AUTH_TOKEN_FILE"] = nil
        environment["NO_COLOR"] = nil
        for (name, value) in overrides { environment[name] = value }
        process.environment = environment
        return process
    }

    /// Keeps a run bounded: a CLI that hangs fails its test instead of hanging the suite. Cancel
    /// the returned item once the process has exited.
    private func watchdog(_ process: Process, after seconds: TimeInterval) -> DispatchWorkItem {
        let item = DispatchWorkItem {
            if process.isRunning { process.terminate() }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: item)
        return item
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
        #expect(retry.stdout.contains("[warning] retrying download\\nsecond line\n"))
        let build = try self.orchlog(["append", "build", "--parent", rootID, "--category", "step", "--elaboration", "{\"target\":\"all\"}", "--order", "5"], server: port)
        #expect(build.status == 0)
        _ = try self.orchlog(["append", "no category", "--parent", rootID], server: port)

        let tree = try self.orchlog(["tree", rootID], server: port)
        #expect(tree.status == 0)
        #expect(tree.stdout == """
            [note] session started
            ├── [step] fetch inputs
            │   └── [warning] retrying download\\nsecond line
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

    /// The scalars a terminal could act on or show reordered: C0 controls other than the newline
    /// ending a line, DEL, C1 controls, U+2028/U+2029 and the bidi embedding, override and isolate controls.
    func rawControls(_ text: String) -> [String] {
        text.unicodeScalars.filter {
            switch $0.value {
            case 0x0A: false
            case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: true
            default: false
            }
        }
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
            "2  \(ids[0])  [cr\\r\\nlf] first line\\r\\nsecond line\\r\\nthird",
            "3  \(ids[1])  [note\\n99  00000000-0000-0000-0000-000000000000  [error] injected] lf only\\nsecond",
            "4  \(ids[2])  [\\x1b[31mred] \\x1b]0;PWNED\\x07\\x1b[2J cleared",
            "5  \(ids[3])  [c1\\x9bdel\\x7f] c1 \\x9b31m and del \\x7f end",
            "",
        ])

        let tree = try self.orchlog(["tree", root], server: port)
        #expect(tree.status == 0)
        #expect(self.rawControls(tree.stdout).isEmpty, "\(tree.stdout)")
        #expect(tree.stdout == """
            [note] root
            ├── [cr\\r\\nlf] first line\\r\\nsecond line\\r\\nthird
            ├── [note\\n99  00000000-0000-0000-0000-000000000000  [error] injected] lf only\\nsecond
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

    @Test("arguments, environment variables and @FILE or token files that are not valid UTF-8 are refused with 64; nothing is stored")
    func invalidUTF8() throws {
        let server = try RestartableServer { $0.authToken = Array("secret".utf8) }
        let port = server.port
        let token = server.directory.file("token")
        try Data("secret\n".utf8).write(to: URL(fileURLWithPath: token))
        let invalidJSON = server.directory.file("invalid.json")
        try Data([UInt8]("{\"a\":\"x".utf8) + [0xFF] + [UInt8]("y\"}".utf8)).write(to: URL(fileURLWithPath: invalidJSON))
        let invalidToken = server.directory.file("invalid-token")
        try Data([0x73, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: invalidToken))
        let auth = "--auth-token-file '\(token)'"

        let cases: [(script: String, mentions: String)] = [
            (#"exec "$ORCHLOG" append "$(printf 'bad\377\376bytes')" \#(auth) --json"#, #"argument 2 is not valid UTF-8: "bad\xff\xfebytes""#),
            (#"exec "$ORCHLOG" append ok --category "$(printf 'c\377')" \#(auth)"#, "argument 4 is not valid UTF-8"),
            (#"exec "$ORCHLOG" get "$(printf '\300\257')" \#(auth)"#, #""\xc0\xaf""#),
            (#"exec "$ORCHLOG" append ok --elaboration '@\#(invalidJSON)' \#(auth)"#, "--elaboration: \"\(invalidJSON)\" is not valid UTF-8 (byte 0xff at offset 7)"),
            (#"exec "$ORCHLOG" append ok --auth-token-file '\#(invalidToken)'"#, "--auth-token-file: \"\(invalidToken)\" is not valid UTF-8"),
            (#"ORCHLOG_SERVER="$(printf '127.0.0.1:\#(port)\377')" exec "$ORCHLOG" health \#(auth)"#, "ORCHLOG_SERVER is not valid UTF-8"),
        ]
        for (script, mentions) in cases {
            let run = try self.orchlog(shell: script, server: port)
            #expect(run.status == 64, "\(script): \(run.stdout) \(run.stderr)")
            #expect(run.stderr.contains(mentions), "\(script): \(run.stderr)")
            #expect(!run.stderr.contains("\u{FFFD}"), "\(run.stderr)")
        }
        let health = try self.orchlog(["health", "--json", "--auth-token-file", token], server: port)
        #expect(health.status == 0, "\(health.stderr)")
        #expect(health.stdout.contains("\"entry_count\":0"), "\(health.stdout)")
    }

    @Test("children and tree show each entry whole on one line, line breaks, separators and bidi controls escaped; get escapes all but LF and CR LF")
    func lineBreaksAndBidi() throws {
        let server = try RestartableServer()
        let port = server.port
        let content = "l1\nl2\r\nl3 \u{2028}s\u{2029} \u{202E}ev\u{202C} \u{2066}i\u{2069}\rcr"
        let root = try self.orchlog(["append", "root", "--json"], server: port)
        let rootID = try self.id(fromJSON: root.stdout)
        let append = try self.orchlog(["append", content, "--parent", rootID, "--category", "a\u{2028}b\u{202E}c"], server: port)
        #expect(append.status == 0, "\(append.stderr)")
        let line = #"[a\u2028b\u202ec] l1\nl2\r\nl3 \u2028s\u2029 \u202eev\u202c \u2066i\u2069\rcr"#

        let children = try self.orchlog(["children", rootID], server: port)
        #expect(children.stdout.split(separator: "\n").count == 1, "\(children.stdout)")
        #expect(children.stdout.hasSuffix("  " + line + "\n"), "\(children.stdout)")
        #expect(append.stdout.hasSuffix("  " + line + "\n"), "\(append.stdout)")
        let tree = try self.orchlog(["tree", rootID], server: port)
        #expect(tree.stdout == "root\n└── \(line)\n")

        // A long content is cut at 72 characters, never inside an escape.
        let long = try self.orchlog(["append", String(repeating: "x", count: 68) + "\u{1B}[2J and more"], server: port)
        #expect(long.stdout.hasSuffix("  " + String(repeating: "x", count: 68) + "…\n"), "\(long.stdout)")

        let id = try #require(append.stdout.split(separator: " ").dropFirst().first.map(String.init))
        let get = try self.orchlog(["get", id], server: port)
        #expect(self.rawControls(get.stdout).isEmpty, "\(get.stdout)")
        #expect(get.stdout.contains("category:     a\\u2028b\\u202ec\n"))
        #expect(get.stdout.hasSuffix(
            "content:      l1\n              l2\n              l3 \\u2028s\\u2029 \\u202eev\\u202c \\u2066i\\u2069\\rcr\n"
        ), "\(get.stdout)")

        // --json: exact, with the separators and bidi controls written as \uHHHH.
        for json in [try self.orchlog(["get", id, "--json"], server: port).stdout, try self.orchlog(["children", rootID, "--json"], server: port).stdout] {
            #expect(self.rawControls(json).isEmpty, "\(json)")
            #expect(json.contains(#"\u202e"#))
            let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
            #expect(object?["content"] as? String == content)
        }
    }

    @Test("a negative number can follow an option as the next argument")
    func negativeValues() throws {
        let server = try RestartableServer()
        let port = server.port
        for order in ["-5", "-9223372036854775808"] {
            let run = try self.orchlog(["append", "x", "--order", order, "--json"], server: port)
            #expect(run.status == 0, "\(run.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
            #expect((object?["sibling_order"] as? NSNumber)?.stringValue == order)
        }
        // Options that take no negative value name the value, not a missing one.
        for arguments in [["children", "--limit", "-1"], ["children", "--after", "-1"], ["children", "--timeout", "-1"], ["tree", UUID.v7().uuidString, "--depth", "-1"]] {
            let run = try self.orchlog(arguments, server: port)
            #expect(run.status == 64)
            #expect(!run.stderr.contains("Missing value"), "\(arguments): \(run.stderr)")
            #expect(run.stderr.contains("-1"), "\(arguments): \(run.stderr)")
        }
    }

    @Test("errors found while running show the subcommand's usage and the OS's reason")
    func runTimeErrors() throws {
        let server = try RestartableServer()
        let port = server.port
        let missing = server.directory.file("missing.json")
        let cases: [(arguments: [String], usage: String, mentions: String)] = [
            (["append", "e", "--elaboration", "@" + missing], "Usage: orchlog append ", "--elaboration: cannot read \"\(missing)\": No such file or directory"),
            (["append", "e", "--elaboration", "@" + server.directory.path], "Usage: orchlog append ", "Is a directory"),
            (["health", "--auth-token-file", missing], "Usage: orchlog health ", "--auth-token-file: cannot read \"\(missing)\": No such file or directory"),
            (["children", "--server", "nosuch.invalid:7700"], "Usage: orchlog children ", "--server: \"nosuch.invalid\" is not a numeric"),
        ]
        for (arguments, usage, mentions) in cases {
            let run = try self.orchlog(arguments, server: port)
            #expect(run.status == 64, "\(arguments): \(run.stderr)")
            #expect(run.stderr.contains(usage), "\(arguments): \(run.stderr)")
            #expect(run.stderr.contains("See 'orchlog \(arguments[0]) --help'"))
            #expect(!run.stderr.contains("orchlog <subcommand>"), "\(arguments): \(run.stderr)")
            #expect(run.stderr.contains(mentions), "\(arguments): \(run.stderr)")
        }
    }

    @Test("content that starts with '-': the error and append --help point to --, which works")
    func dashContent() throws {
        let server = try RestartableServer()
        let port = server.port
        let run = try self.orchlog(["append", "-x"], server: port)
        #expect(run.status == 64)
        #expect(run.stderr.contains("orchlog append -- -x"), "\(run.stderr)")
        let help = try self.orchlog(["append", "--help"], server: port)
        #expect(help.stdout.contains("orchlog append -- -x"), "\(help.stdout)")
        let dashed = try self.orchlog(["append", "--json", "--", "-x"], server: port)
        #expect(dashed.status == 0, "\(dashed.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(dashed.stdout.utf8)) as? [String: Any]
        #expect(object?["content"] as? String == "-x")
    }

    @Test("empty ORCHLOG_SERVER and ORCHLOG_AUTH_TOKEN_FILE count as unset; an invalid value names its variable")
    func environmentVariables() throws {
        let server = try RestartableServer()
        let port = server.port
        let emptyToken = try self.orchlog(["health"], server: port, environment: ["ORCHLOG_AUTH_TOKEN_FILE": ""])
        #expect(emptyToken.status == 0, "\(emptyToken.stderr)")

        // Empty: the default 127.0.0.1:7700, whatever answers there (or nothing), not a usage error.
        let emptyServer = try self.orchlog(["health", "--timeout", "2"], server: nil, environment: ["ORCHLOG_SERVER": ""])
        #expect(emptyServer.status != 64, "\(emptyServer.stderr)")
        #expect(!emptyServer.stderr.contains("HOST:PORT"), "\(emptyServer.stderr)")
        #expect(emptyServer.status == 0 || emptyServer.stderr.contains("127.0.0.1:7700"), "\(emptyServer.stderr)")

        let cases: [(environment: [String: String?], mentions: String)] = [
            (["ORCHLOG_SERVER": "bogus"], "ORCHLOG_SERVER must be HOST:PORT, got \"bogus\""),
            (["ORCHLOG_SERVER": "nosuch.invalid:\(port)"], "ORCHLOG_SERVER: \"nosuch.invalid\" is not a numeric"),
            (["ORCHLOG_AUTH_TOKEN_FILE": server.directory.file("missing")], "ORCHLOG_AUTH_TOKEN_FILE: cannot read"),
        ]
        for (environment, mentions) in cases {
            let run = try self.orchlog(["health"], server: port, environment: environment)
            #expect(run.status == 64, "\(environment): \(run.stderr)")
            #expect(run.stderr.contains(mentions), "\(environment): \(run.stderr)")
        }
    }

    @Test("--timeout with children --follow is refused with 64 (a follow runs until interrupted)")
    func followTimeout() throws {
        let server = try RestartableServer()
        let started = Date()
        let run = try self.orchlog(["children", "--follow", "--timeout", "1"], server: server.port, timeLimit: 20)
        #expect(run.status == 64, "\(run.stderr)")
        #expect(run.stderr.contains("--timeout does not apply to --follow"), "\(run.stderr)")
        #expect(Date().timeIntervalSince(started) < 15)
        let help = try self.orchlog(["children", "--help"], server: server.port)
        #expect(help.stdout.contains("not with --timeout"), "\(help.stdout)")
    }

    @Test("[category] is coloured in append, children and tree on a terminal, unless NO_COLOR is set and not empty")
    func colour() throws {
        let server = try RestartableServer()
        let port = server.port
        let root = try self.id(fromJSON: try self.orchlog(["append", "root", "--category", "note", "--json"], server: port).stdout)
        let red = "\u{1B}[31m[error]\u{1B}[0m child"
        let append = try self.orchlogOnTerminal(["append", "child", "--category", "error", "--parent", root], server: port)
        #expect(append.contains(red), "\(append.debugDescription)")
        for noColour in [nil, ""] as [String?] {
            for command in [["children", root], ["tree", root]] {
                let out = try self.orchlogOnTerminal(command, server: port, environment: ["NO_COLOR": noColour])
                #expect(out.contains(red), "\(command) NO_COLOR=\(noColour ?? "unset"): \(out.debugDescription)")
            }
        }
        for command in [["children", root], ["tree", root], ["append", "x", "--category", "error"]] {
            let out = try self.orchlogOnTerminal(command, server: port, environment: ["NO_COLOR": "1"])
            #expect(!out.contains("\u{1B}"), "\(command): \(out.debugDescription)")
            #expect(out.contains("[error]"))
        }
        // Not a terminal: never coloured.
        #expect(!(try self.orchlog(["children", root], server: port).stdout.contains("\u{1B}")))
    }

    @Test("tree marks levels deeper than 32 with [depth N] instead of indenting further")
    func deepTree() async throws {
        let server = try RestartableServer()
        let client = try OrchLogClient(host: "127.0.0.1", port: Int(server.port), configuration: .fastTest())
        let root = LogEntry(content: "root")
        var entries = [root]
        for depth in 1...40 {
            entries.append(LogEntry(content: "n\(depth)", parentID: entries.last!.id))
        }
        entries.append(LogEntry(content: "last", parentID: root.id))
        _ = try await client.appendLogs(entries)
        await client.close()

        let tree = try self.orchlog(["tree", root.id.uuidString.lowercased()], server: server.port)
        #expect(tree.status == 0, "\(tree.stderr)")
        var expected = ["root"]
        for depth in 1...40 {
            // n1 has a later sibling (its guide stays); each deeper node is an only child.
            let guides = depth == 1 ? "" : "│   " + String(repeating: "    ", count: min(depth, 33) - 2)
            let mark = depth > 32 ? "[depth \(depth)] " : ""
            expected.append(guides + (depth == 1 ? "├── " : "└── ") + mark + "n\(depth)")
        }
        expected.append("└── last")
        #expect(tree.stdout.split(separator: "\n").map(String.init) == expected, "\(tree.stdout)")
        #expect(tree.stdout.split(separator: "\n").allSatisfy { $0.count <= 33 * 4 + 20 })
    }
}
