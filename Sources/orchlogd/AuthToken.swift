import Foundation

/// The shared secret clients must present in `hello`, read from a file.
enum AuthToken {
    struct Error: Swift.Error, CustomStringConvertible {
        let description: String
    }

    /// The file's contents without surrounding whitespace (a trailing newline is usual).
    static func read(from path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Error(description: "cannot read --auth-token-file \(path)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw Error(description: "--auth-token-file \(path) is empty") }
        return Array(token.utf8)
    }
}
