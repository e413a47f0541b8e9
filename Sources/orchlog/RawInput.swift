import ArgumentParser
import Foundation

/// Input read as bytes and checked to be UTF-8. Swift replaces each invalid byte with U+FFFD
/// when it makes a String from argv, the environment or a file, so bad input would be stored
/// changed; the protocol says strings MUST be valid UTF-8, so the CLI refuses it instead.
enum RawInput {
    /// The command-line arguments after the program name.
    /// - Throws: `ValidationError` naming the first argument that is not valid UTF-8.
    static func arguments() throws -> [String] {
        try (1..<Int(CommandLine.argc)).map { index in
            // Non-nil below argc.
            let bytes = self.bytes(of: CommandLine.unsafeArgv[index]!)
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw ValidationError("argument \(index) \(self.invalid(bytes))")
            }
            return text
        }
    }

    /// The environment variable `name`, or nil when it is unset or empty (empty means unset).
    /// - Throws: `ValidationError` naming the variable when its value is not valid UTF-8.
    static func environment(_ name: String) throws -> String? {
        guard let value = getenv(name) else { return nil }
        let bytes = self.bytes(of: value)
        guard !bytes.isEmpty else { return nil }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ValidationError("\(name) \(self.invalid(bytes))")
        }
        return text
    }

    /// The whole file at `path` as UTF-8 text; `what` starts the error messages (e.g. `--elaboration`).
    /// - Throws: `ValidationError` with the OS's reason when the file cannot be read, or where
    ///   the first invalid byte is.
    static func readFile(_ path: String, for what: String) throws -> String {
        let bytes: [UInt8]
        do {
            bytes = try self.readBytes(path)
        } catch {
            throw ValidationError("\(what): cannot read \"\(Format.escaped(path))\": \(String(cString: strerror(error.code)))")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            let offset = self.firstInvalidOffset(bytes) ?? 0
            throw ValidationError(
                "\(what): \"\(Format.escaped(path))\" is not valid UTF-8 (byte \(String(format: "0x%02x", bytes[offset])) at offset \(offset))"
            )
        }
        return text
    }

    /// An errno from a failed read.
    private struct OSError: Error {
        var code: Int32
    }

    /// The file's bytes, read with POSIX calls so a failure keeps its errno.
    private static func readBytes(_ path: String) throws(OSError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OSError(code: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count == 0 { return bytes }
            if count < 0 {
                if errno == EINTR { continue }
                throw OSError(code: errno)
            }
            bytes += chunk[..<count]
        }
    }

    private static func bytes(of cString: UnsafePointer<CChar>) -> [UInt8] {
        Array(UnsafeBufferPointer(start: cString, count: strlen(cString))).map { UInt8(bitPattern: $0) }
    }

    /// `is not valid UTF-8: "…"`, the bytes shown with the invalid ones as `\xHH`.
    private static func invalid(_ bytes: [UInt8]) -> String {
        "is not valid UTF-8: \"\(self.escaped(bytes))\" (invalid bytes shown as \\xHH)"
    }

    /// `bytes` escaped as `Format.escaped` does, with each byte that is not part of valid UTF-8 as `\xHH`.
    private static func escaped(_ bytes: [UInt8]) -> String {
        var out = ""
        self.scan(bytes) { range, valid in
            out += valid
                ? Format.escaped(String(decoding: bytes[range], as: UTF8.self))
                : bytes[range].map { String(format: "\\x%02x", $0) }.joined()
        }
        return out
    }

    /// The offset of the first byte that is not part of valid UTF-8, or nil if there is none.
    private static func firstInvalidOffset(_ bytes: [UInt8]) -> Int? {
        var first: Int?
        self.scan(bytes) { range, valid in
            if !valid && first == nil { first = range.lowerBound }
        }
        return first
    }

    /// Calls `body` for each scalar of `bytes` in order, with its byte range, or for each
    /// maximal invalid sequence, with `valid` false.
    private static func scan(_ bytes: [UInt8], _ body: (Range<Int>, _ valid: Bool) -> Void) {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                body(offset..<offset + encoded.count, true)
                offset += encoded.count
            case .error(let length):
                body(offset..<offset + length, false)
                offset += length
            case .emptyInput:
                return
            }
        }
    }
}
