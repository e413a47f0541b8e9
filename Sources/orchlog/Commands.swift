import ArgumentParser
import Foundation
import OrchLogClient

struct Append: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "append",
        abstract: "Append an entry and print it as stored.",
        discussion: """
            Content that starts with '-' goes after '--', which ends the options: \
            orchlog append --category note -- -x
            """
    )

    @OptionGroup var server: ServerOptions

    @Argument(help: "The entry's content (after -- if it starts with '-': orchlog append -- -x).")
    var content: String

    @Option(help: "The parent entry's id (default: a new root).")
    var parent: String?

    @Option(help: "The entry's category, e.g. error, warning, note.")
    var category: String?

    // Unconditional, so a negative order can follow as the next argument.
    @Option(parsing: .unconditional, help: "The sibling order, may be negative (default: after the parent's last child).")
    var order: Int64?

    @Option(help: "JSON text, or @FILE to read it from a file.")
    var elaboration: String?

    @Option(help: "The entry's id (default: a new UUIDv7); reuse one to retry idempotently.")
    var id: String?

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        _ = try self.id.map { try parseID($0, "--id") }
        _ = try self.parent.map { try parseID($0, "--parent") }
    }

    func run() async throws {
        let entry = LogEntry(
            id: try self.id.map { try parseID($0, "--id") } ?? .v7(), content: self.content, category: self.category,
            parentID: try self.parent.map { try parseID($0, "--parent") }, siblingOrder: self.order,
            elaboration: try self.readElaboration()
        )
        try await runClient(self.server) { client in
            let result = try await client.appendLog(entry)
            if self.json {
                print(JSONOutput.entry(result.entry, extra: ["created": result.created]))
            } else {
                print(Format.entryLine(result.entry, colour: Format.colourOnStdout) + (result.created ? "" : "  (already stored)"))
            }
        }
    }

    private func readElaboration() throws -> String? {
        guard let elaboration, elaboration.hasPrefix("@") else { return self.elaboration }
        return try RawInput.readFile(String(elaboration.dropFirst()), for: "--elaboration")
    }
}

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Print one entry.")

    @OptionGroup var server: ServerOptions

    @Argument(help: "The entry's id.")
    var id: String

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        _ = try parseID(self.id, "id")
    }

    func run() async throws {
        let id = try parseID(self.id, "id")
        try await runClient(self.server) { client in
            let entry = try await client.getLog(id: id)
            print(self.json ? JSONOutput.entry(entry) : Format.details(entry))
        }
    }
}

struct Children: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "children", abstract: "Print the children of an entry (or the roots), in seq order."
    )

    @OptionGroup var server: ServerOptions

    @Argument(help: "The parent's id (default: the roots).")
    var id: String?

    // Numbers are parsed unconditionally, so `--limit -1` is refused as a value, not as a missing one.
    @Option(parsing: .unconditional, help: "Only children with a seq above this.")
    var after: UInt64 = 0

    @Option(parsing: .unconditional, help: "Stop after this many (0: no limit; at most 4294967295).")
    var limit: Int = 0

    @Flag(help: "Keep printing new children as they are appended, until interrupted (so not with --timeout).")
    var follow = false

    @Flag(help: "Print JSON, one object per line.")
    var json = false

    func validate() throws {
        _ = try self.id.map { try parseID($0, "id") }
        try validateCount(self.limit, "--limit")
        if self.follow && self.server.timeout != nil {
            throw ValidationError("--timeout does not apply to --follow, which runs until interrupted")
        }
    }

    func run() async throws {
        let parent = try self.id.map { try parseID($0, "id") }
        var options = CallOptions()
        if !self.follow { options.timeout = self.server.callTimeout }
        let colour = Format.colourOnStdout
        try await runClient(self.server) { client in
            for try await entry in client.streamChildren(of: parent, after: self.after, follow: self.follow, limit: self.limit, options: options) {
                print(self.json ? JSONOutput.entry(entry) : Format.entryLine(entry, colour: colour))
                if self.follow { fflush(nil) }
            }
        }
    }
}

struct Tree: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tree",
        abstract: "Draw the subtree under an entry.",
        discussion: """
            Levels deeper than \(TreeRenderer.maxDrawnDepth) are marked [depth N] instead of being indented further.
            """
    )

    @OptionGroup var server: ServerOptions

    @Argument(help: "The root's id.")
    var id: String

    @Option(parsing: .unconditional, help: "The deepest level to show (0: all; at most 4294967295).")
    var depth: Int = 0

    @Flag(help: "Print JSON, one node per line, in preorder.")
    var json = false

    func validate() throws {
        try validateCount(self.depth, "--depth")
        _ = try parseID(self.id, "id")
    }

    func run() async throws {
        let root = try parseID(self.id, "id")
        var renderer = TreeRenderer(colour: Format.colourOnStdout)
        try await runClient(self.server) { client in
            for try await node in client.getTree(root: root, maxDepth: self.depth) {
                if self.json {
                    print(JSONOutput.entry(node.entry, extra: ["depth": node.depth]))
                } else {
                    print(renderer.add(node), terminator: "")
                }
            }
            if !self.json {
                print(renderer.finish(), terminator: "")
            }
        }
    }
}

struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health", abstract: "Print the server's status, version and entry count."
    )

    @OptionGroup var server: ServerOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        try await runClient(self.server) { client in
            let health = try await client.health()
            if self.json {
                print(JSONOutput.object(["status": health.status, "version": health.version, "entry_count": health.entryCount]))
            } else {
                print("\(Format.escaped(health.status))  version \(Format.escaped(health.version))  \(health.entryCount) entries")
            }
        }
    }
}
