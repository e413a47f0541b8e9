import Logging
import OrchLogStore
import OrchLogTestSupport
import OrchLogWire
import Testing

@Suite("Databases made by other tools")
struct ExistingDatabaseTests {
    let directory = TemporaryDirectory()

    @Test("a file made by the sqlite3 CLI with the verbatim DDL and rows is served; its table SQL is unchanged")
    func servesForeignFile() async throws {
        let path = self.directory.file("foreign.db")
        try sqlite3CLI(path, Schema.createTable + ";\n" + """
            INSERT INTO orchestration_session_log VALUES
              ('11111111-1111-4111-8111-111111111111', NULL, NULL, 'root from cli', NULL, NULL),
              ('22222222-2222-4222-8222-222222222222', 'warn', '11111111-1111-4111-8111-111111111111', 'child two', 2, '{"x":1}'),
              ('33333333-3333-4333-8333-333333333333', NULL, '11111111-1111-4111-8111-111111111111', 'child null', NULL, NULL),
              ('44444444-4444-4444-8444-444444444444', 'err', '11111111-1111-4111-8111-111111111111', 'child one', 1, NULL);
            """)
        let sqlBefore = try sqlite3CLI(path, "SELECT sql FROM sqlite_master WHERE name = 'orchestration_session_log';")

        let store = try LogStore(path: path, logger: Logger(label: "test"))
        #expect(store.entryCount == 4)
        let items = try await store.tree("11111111-1111-4111-8111-111111111111")
        #expect(items.map(\.record.content) == ["root from cli", "child one", "child two", "child null"])
        #expect(items[2].record.elaboration == "{\"x\":1}" && items[2].record.category == "warn")
        #expect(items[3].record.siblingOrder == nil && items[3].record.category == nil)

        // New appends use the existing rows: order after the highest, parent found.
        let appended = try #require(await store.append(parent: "11111111-1111-4111-8111-111111111111", content: "new").value)
        #expect(appended.record.siblingOrder == 3 && appended.record.seq == 5)
        store.close()

        let sqlAfter = try sqlite3CLI(path, "SELECT sql FROM sqlite_master WHERE name = 'orchestration_session_log';")
        #expect(sqlAfter == sqlBefore)
        #expect(sqlAfter.trimmingCharacters(in: .whitespacesAndNewlines) == Schema.createTable)
        let columns = try sqlite3CLI(path, "SELECT name FROM pragma_table_info('orchestration_session_log');")
        #expect(columns.split(separator: "\n").map(String.init) == Schema.columns)
    }

    @Test("rowids at the ends of the range, chosen by another tool, do not stop appends")
    func extremeRowIDs() async throws {
        let root = "11111111-1111-4111-8111-111111111111"
        // The largest rowid, there before the server starts: SQLite then picks rowids at random.
        let highest = self.directory.file("highest.db")
        try sqlite3CLI(highest, Schema.createTable + ";\n" + """
            INSERT INTO orchestration_session_log (rowid, orchestration_session_log_id, content)
              VALUES (9223372036854775807, '\(root)', 'root');
            """)
        let store = try LogStore(path: highest, logger: Logger(label: "test"))
        #expect(await store.append(parent: root, content: "a").value?.created == true)
        store.close()

        // The same rowid written by another process while the server runs (its poll sees it).
        let late = self.directory.file("late.db")
        try sqlite3CLI(late, Schema.createTable + ";\n" + """
            INSERT INTO orchestration_session_log (orchestration_session_log_id, content) VALUES ('\(root)', 'root');
            """)
        var options = StoreOptions()
        options.pollExternalMillis = 20
        let running = try LogStore(path: late, options: options, logger: Logger(label: "test"))
        #expect(await running.append(parent: root, content: "before").value?.created == true)
        try sqlite3CLI(late, """
            INSERT INTO orchestration_session_log (rowid, orchestration_session_log_id, parent_exec_id, content)
              VALUES (9223372036854775807, '22222222-2222-4222-8222-222222222222', '\(root)', 'from outside');
            """)
        try await Task.sleep(for: .milliseconds(200))
        #expect(await running.append(parent: root, content: "after").value?.created == true)
        #expect(running.entryCount == 4)
        running.close()

        // Only negative rowids: the next one SQLite picks is negative too; its seq reads as 0.
        let negative = self.directory.file("negative.db")
        try sqlite3CLI(negative, Schema.createTable + ";\n" + """
            INSERT INTO orchestration_session_log (rowid, orchestration_session_log_id, content) VALUES (-10, '\(root)', 'root');
            """)
        let below = try LogStore(path: negative, logger: Logger(label: "test"))
        let child = try #require(await below.append(parent: root, content: "child").value)
        #expect(child.created && child.record.seq == 0)
        let read = try await below.readNow { try $0.entry(id: child.record.id) }
        #expect(read?.content == "child")
        below.close()
    }

    @Test("an assigned order follows the highest number among orders another tool stored as numbers, text or blobs")
    func assignedOrderOverForeignOrders() async throws {
        let path = self.directory.file("orders.db")
        let root = "11111111-1111-4111-8111-111111111111"
        try sqlite3CLI(path, Schema.createTable + ";\n" + """
            INSERT INTO orchestration_session_log VALUES
              ('\(root)', NULL, NULL, 'root', NULL, NULL),
              ('22222222-2222-4222-8222-222222222222', NULL, '\(root)', 'int', 3, NULL),
              ('33333333-3333-4333-8333-333333333333', NULL, '\(root)', 'text', 'zz', NULL),
              ('44444444-4444-4444-8444-444444444444', NULL, '\(root)', 'real', 7.5, NULL),
              ('55555555-5555-4555-8555-555555555555', NULL, '\(root)', 'blob', x'01', NULL);
            """)
        let store = try LogStore(path: path, logger: Logger(label: "test"))
        // Before, the text order was the maximum and read as 0: the next order was 1.
        #expect(await store.append(parent: root, content: "next").value?.record.siblingOrder == 8)
        #expect(await store.append(parent: root, content: "after").value?.record.siblingOrder == 9)
        store.close()
    }

    @Test("a table with other columns is refused with a clear error")
    func refusesOtherColumns() throws {
        let path = self.directory.file("other.db")
        try sqlite3CLI(path, "CREATE TABLE orchestration_session_log (id TEXT PRIMARY KEY, content TEXT, extra INTEGER);")
        #expect {
            try LogStore(path: path, logger: Logger(label: "test"))
        } throws: { error in
            "\(error)".contains("expected exactly")
        }
    }

    @Test("a table with the right names but not the specified table is refused, naming what differs", arguments: [
        ("\"sibling_order\" TEXT", "declares sibling_order as TEXT, expected INTEGER"),
        ("\"orchestration_session_log_id\" UUID NOT NULL", "does not have orchestration_session_log_id as its primary key"),
        ("\"content\" TEXT", "has content nullable, expected NOT NULL"),
        ("FOREIGN KEY", "has foreign keys [], expected exactly"),
        (")\n", "has no rowid (created WITHOUT ROWID)"),
    ])
    func refusesAnotherTable(change: String, problem: String) throws {
        // The specified DDL with one thing changed.
        var ddl = Schema.createTable
        switch change {
        case "\"sibling_order\" TEXT": ddl = ddl.replacingOccurrences(of: #""sibling_order" INTEGER"#, with: change)
        case "\"orchestration_session_log_id\" UUID NOT NULL":
            ddl = ddl.replacingOccurrences(of: #""orchestration_session_log_id" UUID PRIMARY KEY NOT NULL"#, with: change)
        case "\"content\" TEXT": ddl = ddl.replacingOccurrences(of: #""content" TEXT NOT NULL"#, with: change)
        case "FOREIGN KEY":
            ddl = ddl.replacingOccurrences(of: #"CHECK(json_valid(elaboration) OR elaboration IS NULL),"#, with: "CHECK(json_valid(elaboration) OR elaboration IS NULL)")
            ddl = String(ddl[..<ddl.range(of: "FOREIGN KEY")!.lowerBound]) + ")"
        default: ddl += " WITHOUT ROWID"
        }
        #expect(ddl != Schema.createTable)
        let path = self.directory.file("changed.db")
        try sqlite3CLI(path, ddl + ";")
        let made = try sqlite3CLI(path, "SELECT count(*) FROM sqlite_master WHERE name = 'orchestration_session_log';")
        #expect(made.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "the changed DDL made the table")
        #expect {
            try LogStore(path: path, logger: Logger(label: "test"))
        } throws: { error in
            "\(error)".contains(problem)
        }
    }

    @Test("the specified DDL with its types spelled in lower case is the same table")
    func acceptsTypesInAnyCase() throws {
        let path = self.directory.file("lower.db")
        let ddl = Schema.createTable.replacingOccurrences(of: " UUID", with: " uuid").replacingOccurrences(of: " TEXT", with: " text")
        #expect(ddl != Schema.createTable)
        try sqlite3CLI(path, ddl + ";")
        let store = try LogStore(path: path, logger: Logger(label: "test"))
        store.close()
    }

    @Test("a file that is not a database is refused with a clear error")
    func refusesGarbage() throws {
        let path = self.directory.file("garbage.db")
        try String(repeating: "not sqlite ", count: 500).write(toFile: path, atomically: true, encoding: .utf8)
        #expect {
            try LogStore(path: path, logger: Logger(label: "test"))
        } throws: { error in
            "\(error)".contains("cannot open database")
        }
    }
}

import Foundation
