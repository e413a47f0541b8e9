// orchlog interop driver for the Swift client (Tests/Interop/README.md).
//
//   orchlog-interop write --server HOST:PORT --writer NAME --scenario FILE
//   orchlog-interop read --server HOST:PORT --writer NAME --scenario FILE
//   orchlog-interop follow --server HOST:PORT --parent ID --count N [--timeout S]
//   orchlog-interop append-children --server HOST:PORT --parent ID --prefix P --count N
//   orchlog-interop list-children --server HOST:PORT --parent ID
//
// The Swift client takes ids as `UUID` and `content` as a non-optional `String`, so it cannot
// send a malformed id or an entry without content: `write` skips those error cases (ops whose
// id or parent is a raw text "=..." that `UUID(uuidString:)` rejects, or whose content is \N)
// and reports how many it skipped.

import ArgumentParser
import Foundation
import OrchLogClient

@main
struct Interop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orchlog-interop",
        abstract: "orchlog interop driver (Swift client).",
        subcommands: [Write.self, Read.self, Follow.self, AppendChildren.self, ListChildren.self]
    )
}

struct Common: ParsableArguments {
    @Option(name: .long, help: "HOST:PORT of orchlogd.")
    var server: String

    func client() throws -> OrchLogClient {
        guard let colon = self.server.lastIndex(of: ":"), let port = Int(self.server[self.server.index(after: colon)...]) else {
            throw ValidationError("--server must be HOST:PORT")
        }
        return try OrchLogClient(host: String(self.server[..<colon]), port: port)
    }
}

struct ScenarioOptions: ParsableArguments {
    @Option(name: .long) var writer: String
    @Option(name: .long) var scenario: String
}

// MARK: - Output

func writeOut(_ bytes: [UInt8]) {
    FileHandle.standardOutput.write(Data(bytes))
}

func writeErr(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

// MARK: - Scenario format

let nullField = "\\N"

/// Unescapes one field (bytes); nil for \N.
func unescape(_ field: ArraySlice<UInt8>) -> String? {
    if Array(field) == Array(nullField.utf8) { return nil }
    var out: [UInt8] = []
    var i = field.startIndex
    while i < field.endIndex {
        let b = field[i]
        if b == UInt8(ascii: "\\") && i + 1 < field.endIndex {
            let n = field[i + 1]
            switch n {
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
            default: out.append(b); out.append(n)
            }
            i += 2
        } else {
            out.append(b)
            i += 1
        }
    }
    return String(decoding: out, as: UTF8.self)
}

/// Escapes a value as in the scenario format (byte-wise on its UTF-8).
func escape(_ value: String?, into out: inout [UInt8]) {
    guard let value else {
        out.append(contentsOf: nullField.utf8)
        return
    }
    for b in value.utf8 {
        switch b {
        case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
        case 0x09: out.append(contentsOf: "\\t".utf8)
        case 0x0A: out.append(contentsOf: "\\n".utf8)
        case 0x0D: out.append(contentsOf: "\\r".utf8)
        default: out.append(b)
        }
    }
}

typealias Op = [String?]

func loadScenario(_ path: String) throws -> [Op] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("cannot read \(path)")
    }
    let bytes = [UInt8](data)
    var ops: [Op] = []
    for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: true) {
        if line.first == UInt8(ascii: "#") { continue }
        ops.append(line.split(separator: 0x09, omittingEmptySubsequences: false).map(unescape))
    }
    return ops
}

// MARK: - Ids: SHA-256 of "writer/label", first 16 bytes, version 8, variant 10

func sha256(_ message: [UInt8]) -> [UInt8] {
    let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]
    var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    var m = message
    let bitLength = UInt64(message.count) * 8
    m.append(0x80)
    while m.count % 64 != 56 { m.append(0) }
    for i in (0..<8).reversed() { m.append(UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i)))) }
    func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
    var w = [UInt32](repeating: 0, count: 64)
    for block in stride(from: 0, to: m.count, by: 64) {
        for i in 0..<16 {
            let p = block + 4 * i
            w[i] = UInt32(m[p]) << 24 | UInt32(m[p + 1]) << 16 | UInt32(m[p + 2]) << 8 | UInt32(m[p + 3])
        }
        for i in 16..<64 {
            let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
            let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
            w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
        }
        var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
        for i in 0..<64 {
            let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
            let ch = (e & f) ^ (~e & g)
            let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
            let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
            let maj = (a & b) ^ (a & c) ^ (b & c)
            let t2 = s0 &+ maj
            hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
        }
        h[0] = h[0] &+ a; h[1] = h[1] &+ b; h[2] = h[2] &+ c; h[3] = h[3] &+ d
        h[4] = h[4] &+ e; h[5] = h[5] &+ f; h[6] = h[6] &+ g; h[7] = h[7] &+ hh
    }
    return h.flatMap { [UInt8($0 >> 24), UInt8(($0 >> 16) & 0xff), UInt8(($0 >> 8) & 0xff), UInt8($0 & 0xff)] }
}

func deriveID(writer: String, label: String) -> String {
    var d = Array(sha256(Array("\(writer)/\(label)".utf8)).prefix(16))
    d[6] = (d[6] & 0x0f) | 0x80
    d[8] = (d[8] & 0x3f) | 0x80
    let hex = d.map { String(format: "%02x", $0) }.joined()
    let c = Array(hex)
    return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20..<32])
}

/// The text id of a label: "=text" is raw text, "^label" the derived id in upper case; nil
/// stays nil. (The Swift client sends a `UUID` in lower case whatever the case of its text.)
func idText(_ writer: String, _ label: String?) -> String? {
    guard let label else { return nil }
    if label.hasPrefix("=") { return String(label.dropFirst()) }
    if label.hasPrefix("^") { return deriveID(writer: writer, label: String(label.dropFirst())).uppercased() }
    return deriveID(writer: writer, label: label)
}

func lower(_ id: UUID) -> String { id.uuidString.lowercased() }

/// An append's fields from `op[first...]`: label parent category content order elaboration.
struct Spec {
    var label: String
    var id: String?
    var parent: String?
    var category: String?
    var content: String?
    var order: Int64?
    var elaboration: String?

    init(_ op: Op, from first: Int, writer: String) {
        self.label = op[first] ?? ""
        self.id = idText(writer, op[first])
        self.parent = idText(writer, op[first + 1])
        self.category = op[first + 2]
        self.content = op[first + 3]
        self.order = op[first + 4].flatMap { Int64($0) }
        self.elaboration = op[first + 5]
    }

    /// The entry, or why the Swift client cannot express it.
    func entry() -> Result<LogEntry, NotExpressible> {
        guard let idText = self.id, let id = UUID(uuidString: idText) else {
            return .failure(NotExpressible(reason: "id \(self.id ?? "nil") is not a UUID"))
        }
        var parentID: UUID?
        if let parent = self.parent {
            guard let parsed = UUID(uuidString: parent) else {
                return .failure(NotExpressible(reason: "parent \(parent) is not a UUID"))
            }
            parentID = parsed
        }
        guard let content = self.content else {
            return .failure(NotExpressible(reason: "content is absent"))
        }
        return .success(LogEntry(
            id: id, content: content, category: self.category, parentID: parentID, siblingOrder: self.order,
            elaboration: self.elaboration
        ))
    }
}

struct NotExpressible: Error {
    var reason: String
}

// MARK: - write

struct Write: AsyncParsableCommand {
    @OptionGroup var common: Common
    @OptionGroup var scenario: ScenarioOptions

    func run() async throws {
        let ops = try loadScenario(self.scenario.scenario)
        let writer = self.scenario.writer
        let client = try self.common.client()
        var failures = 0
        var skipped: [String] = []
        var seqs: [String: UInt64] = [:]
        var specs: [String: Spec] = [:]

        func fail(_ message: String) {
            failures += 1
            writeErr("swift write \(writer): MISMATCH: \(message)")
        }
        func checkStored(_ spec: Spec, _ result: AppendResult, created: Bool) {
            let e = result.entry
            if result.created != created { fail("\(spec.label): created=\(result.created), expected \(created)") }
            if lower(e.id) != spec.id?.lowercased() { fail("\(spec.label): stored id \(lower(e.id))") }
            if e.parentID.map(lower) != spec.parent?.lowercased() { fail("\(spec.label): stored parent differs") }
            // Compare bytes: Swift's String == treats canonically equivalent strings as equal.
            if e.category.map({ Array($0.utf8) }) != spec.category.map({ Array($0.utf8) }) { fail("\(spec.label): stored category differs") }
            if Array(e.content.utf8) != spec.content.map({ Array($0.utf8) }) { fail("\(spec.label): stored content differs") }
            if e.elaboration.map({ Array($0.utf8) }) != spec.elaboration.map({ Array($0.utf8) }) { fail("\(spec.label): stored elaboration differs") }
            if let order = spec.order, e.siblingOrder != order { fail("\(spec.label): stored sibling_order differs") }
            if e.siblingOrder == nil || e.seq == 0 { fail("\(spec.label): stored entry without order or seq") }
            if created {
                seqs[spec.label] = e.seq
            } else if seqs[spec.label] != e.seq {
                fail("\(spec.label): retry returned seq \(e.seq), first append had \(seqs[spec.label].map(String.init) ?? "none")")
            }
        }
        func expect(_ status: String, _ what: String, _ body: () async throws -> Void) async {
            do {
                try await body()
                fail("\(what): succeeded, expected \(status)")
            } catch let error as OrchLogError {
                if error.code.name != status { fail("\(what): got \(error.code.name) (\(error.message)), expected \(status)") }
            } catch {
                fail("\(what): \(error), expected \(status)")
            }
        }

        var batch: (status: String, specs: [Spec])?
        for op in ops {
            switch op[0] ?? "" {
            case "append":
                let spec = Spec(op, from: 1, writer: writer)
                if specs[spec.label] == nil { specs[spec.label] = spec }
                if batch != nil {
                    batch!.specs.append(spec)
                    continue
                }
                switch spec.entry() {
                case .failure(let why): fail("append \(spec.label): \(why.reason)")
                case .success(let entry):
                    do { checkStored(spec, try await client.appendLog(entry), created: true) } catch { fail("append \(spec.label): \(error)") }
                }
            case "batch-begin":
                batch = ((op.count > 1 ? op[1] : nil) ?? "OK", [])
            case "batch-end":
                guard let (status, batchSpecs) = batch else { fail("batch-end without batch-begin"); continue }
                batch = nil
                var entries: [LogEntry] = []
                var reasons: [String] = []
                for spec in batchSpecs {
                    switch spec.entry() {
                    case .success(let entry): entries.append(entry)
                    case .failure(let why): reasons.append(why.reason)
                    }
                }
                if !reasons.isEmpty {
                    if status == "OK" { fail("batch: \(reasons)") } else { skipped.append("batch \(status): \(reasons)") }
                    continue
                }
                if status == "OK" {
                    do {
                        let results = try await client.appendLogs(entries)
                        if results.count != entries.count { fail("batch: \(results.count) results for \(entries.count) entries") }
                        for (spec, result) in zip(batchSpecs, results) { checkStored(spec, result, created: true) }
                    } catch {
                        fail("batch: \(error)")
                    }
                } else {
                    await expect(status, "batch") { _ = try await client.appendLogs(entries) }
                }
            case "retry":
                guard let label = op[1], let spec = specs[label] else { fail("retry of an unknown label"); continue }
                switch spec.entry() {
                case .failure(let why): fail("retry \(label): \(why.reason)")
                case .success(let entry):
                    do { checkStored(spec, try await client.appendLog(entry), created: false) } catch { fail("retry \(label): \(error)") }
                }
            case "error":
                let status = op[1] ?? "", what = op[2] ?? "", target = op[3] ?? "\\N"
                let description = "error \(what) \(target)"
                switch what {
                case "append":
                    switch Spec(op, from: 3, writer: writer).entry() {
                    case .failure(let why): skipped.append("\(description) (\(status)): \(why.reason)")
                    case .success(let entry): await expect(status, description) { _ = try await client.appendLog(entry) }
                    }
                case "get-log", "get-tree", "children":
                    guard let text = idText(writer, op[3]), let id = UUID(uuidString: text) else {
                        skipped.append("\(description) (\(status)): id is not a UUID")
                        continue
                    }
                    await expect(status, description) {
                        switch what {
                        case "get-log": _ = try await client.getLog(id: id)
                        case "get-tree": for try await _ in client.getTree(root: id) {}
                        default: for try await _ in client.streamChildren(of: id) {}
                        }
                    }
                default:
                    fail("unknown error op \(what)")
                }
            default:
                fail("unknown op \(op[0] ?? "")")
            }
        }
        await client.close()
        for s in skipped { writeErr("swift write \(writer): skipped (not expressible in the Swift client): \(s)") }
        writeErr("swift write \(writer): \(ops.count) ops, \(skipped.count) skipped, \(failures) mismatches")
        if failures > 0 { throw ExitCode(1) }
    }
}

// MARK: - read

/// Labels of the entries the scenario stores, in order: (label, parent label).
func storedLabels(_ ops: [Op]) -> [(label: String, parent: String?)] {
    var labels: [(label: String, parent: String?)] = []
    var batch: (ok: Bool, labels: [(label: String, parent: String?)])?
    for op in ops {
        switch op[0] ?? "" {
        case "append":
            var label = op[1] ?? ""
            if label.hasPrefix("^") { label.removeFirst() }
            let item = (label: label, parent: op[2])
            if batch != nil { batch!.labels.append(item) } else { labels.append(item) }
        case "batch-begin":
            batch = (((op.count > 1 ? op[1] : nil) ?? "OK") == "OK", [])
        case "batch-end":
            if let b = batch, b.ok { labels.append(contentsOf: b.labels) }
            batch = nil
        default:
            break
        }
    }
    return labels
}

struct Read: AsyncParsableCommand {
    @OptionGroup var common: Common
    @OptionGroup var scenario: ScenarioOptions

    func run() async throws {
        let ops = try loadScenario(self.scenario.scenario)
        let writer = self.scenario.writer
        let client = try self.common.client()
        let labels = storedLabels(ops)
        var labelOf: [String: String] = [:]
        var ids: [UUID] = []
        for item in labels {
            let text = deriveID(writer: writer, label: item.label)
            labelOf[text] = item.label
            ids.append(UUID(uuidString: text)!)
        }
        var logs: [LogEntry] = []
        for id in ids { logs.append(try await client.getLog(id: id)) }
        var rank: [UInt64: Int] = [:]
        for (i, seq) in logs.map(\.seq).sorted().enumerated() { rank[seq] = i + 1 }

        func ref(_ id: UUID?, into out: inout [UInt8]) {
            guard let id else { out.append(contentsOf: nullField.utf8); return }
            let text = lower(id)
            escape(labelOf[text] ?? "?" + text, into: &out)
        }
        func format(_ e: LogEntry, into out: inout [UInt8]) {
            ref(e.id, into: &out)
            out.append(0x09)
            ref(e.parentID, into: &out)
            out.append(0x09)
            escape(e.category, into: &out)
            out.append(0x09)
            escape(e.content, into: &out)
            out.append(0x09)
            out.append(contentsOf: (e.siblingOrder.map { String($0) } ?? nullField).utf8)
            out.append(0x09)
            escape(e.elaboration, into: &out)
            out.append(0x09)
            out.append(contentsOf: (rank[e.seq].map { String($0) } ?? "?\(e.seq)").utf8)
            out.append(0x0A)
        }

        var out: [UInt8] = []
        for e in logs {
            out.append(contentsOf: "log\t".utf8)
            format(e, into: &out)
        }
        for try await e in client.streamChildren(of: nil) where labelOf[lower(e.id)] != nil {
            out.append(contentsOf: "roots\t".utf8)
            format(e, into: &out)
        }
        for (item, id) in zip(labels, ids) where item.parent == nil {
            for try await node in client.getTree(root: id) {
                out.append(contentsOf: "tree\t".utf8)
                escape(item.label, into: &out)
                out.append(contentsOf: "\t\(node.depth)\t".utf8)
                format(node.entry, into: &out)
            }
        }
        for (item, id) in zip(labels, ids) where item.parent == nil {
            for try await node in client.getTree(root: id, maxDepth: 2) {
                out.append(contentsOf: "tree2\t".utf8)
                escape(item.label, into: &out)
                out.append(contentsOf: "\t\(node.depth)\t".utf8)
                format(node.entry, into: &out)
            }
        }
        for (item, id) in zip(labels, ids) {
            var children: [LogEntry] = []
            for try await e in client.streamChildren(of: id) {
                children.append(e)
                out.append(contentsOf: "children\t".utf8)
                escape(item.label, into: &out)
                out.append(0x09)
                format(e, into: &out)
            }
            // With two or more children: the children after the first one's seq.
            if children.count >= 2 {
                for try await e in client.streamChildren(of: id, after: children[0].seq) {
                    out.append(contentsOf: "after\t".utf8)
                    escape(item.label, into: &out)
                    out.append(0x09)
                    format(e, into: &out)
                }
            }
        }
        await client.close()
        writeOut(out)
    }
}

// MARK: - follow, append-children, list-children

func parseUUID(_ text: String) throws -> UUID {
    guard let id = UUID(uuidString: text) else { throw ValidationError("\(text) is not a UUID") }
    return id
}

struct Follow: AsyncParsableCommand {
    @OptionGroup var common: Common
    @Option(name: .long) var parent: String
    @Option(name: .long) var count: Int
    @Option(name: .long) var timeout: Double = 60

    func run() async throws {
        let parent = try parseUUID(self.parent)
        let client = try self.common.client()
        let count = self.count
        let timeout = self.timeout
        let got = try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                var got = 0
                if count == 0 { return 0 }
                for try await e in client.streamChildren(of: parent, follow: true) {
                    writeOut(Array((lower(e.id) + "\n").utf8))
                    got += 1
                    if got == count { break }
                }
                return got
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
                return -1
            }
            let first = try await group.next() ?? -1
            group.cancelAll()
            return first
        }
        await client.close()
        if got != count {
            writeErr("swift follow: not \(count) children within \(timeout) s")
            throw ExitCode(1)
        }
    }
}

struct AppendChildren: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "append-children")
    @OptionGroup var common: Common
    @Option(name: .long) var parent: String
    @Option(name: .long) var prefix: String
    @Option(name: .long) var count: Int

    func run() async throws {
        let parent = try parseUUID(self.parent)
        let client = try self.common.client()
        for i in 0..<self.count {
            let result = try await client.appendLog(LogEntry(content: "\(self.prefix)\(i)", parentID: parent))
            if !result.created {
                writeErr("swift append-children: \(self.prefix)\(i) not created")
                throw ExitCode(1)
            }
        }
        await client.close()
    }
}

struct ListChildren: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list-children")
    @OptionGroup var common: Common
    @Option(name: .long) var parent: String

    func run() async throws {
        let parent = try parseUUID(self.parent)
        let client = try self.common.client()
        var out: [UInt8] = []
        for try await e in client.streamChildren(of: parent) { out.append(contentsOf: (lower(e.id) + "\n").utf8) }
        await client.close()
        writeOut(out)
    }
}
