#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed socket system call: which call, and `errno` with its text.
package struct SocketError: Error, CustomStringConvertible, Sendable {
    package let call: String
    package let errno: Int32

    package init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    package var description: String { "\(self.call): \(String(cString: strerror(self.errno))) (errno \(self.errno))" }
}
