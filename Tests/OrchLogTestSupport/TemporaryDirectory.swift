import Foundation

/// A fresh directory under the system's temporary folder, removed when the value goes away, so
/// that tests running in parallel never share files.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init() {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("orchlog-tests-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        self.path = url.path
    }

    /// A path for `name` inside the directory.
    public func file(_ name: String) -> String { "\(self.path)/\(name)" }

    /// The size in bytes of `name` inside the directory; 0 if it does not exist.
    public func fileSize(_ name: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: self.file(name)))?[.size] as? Int) ?? 0
    }

    deinit { try? FileManager.default.removeItem(atPath: self.path) }
}
