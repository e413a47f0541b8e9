import Foundation

/// The path of an executable this package builds (`orchlogd`, `orchlog`), found next to the
/// test bundle where SwiftPM puts products; `$ORCHLOGD`-style overrides come from `environment`.
public func builtProduct(_ name: String, environment variable: String? = nil) -> URL {
    if let variable, let path = ProcessInfo.processInfo.environment[variable] { return URL(fileURLWithPath: path) }
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        directory.deleteLastPathComponent()
    }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/\(name)")
}
