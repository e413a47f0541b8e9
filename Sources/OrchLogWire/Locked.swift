#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a pthread mutex, for state that several threads share.
///
/// Used instead of `Synchronization.Mutex` because on Linux `Mutex` waits on a futex inside the
/// standard library, where ThreadSanitizer cannot see it, so every value it guards is reported
/// as a race; `pthread_mutex_lock` is intercepted and modelled, which lets the test suite run
/// under `--sanitize=thread` with no report to explain away. (SwiftNIO's `NIOLockedValueBox`
/// makes the same choice.) It lives in the bottom target because every layer guards something.
package final class Locked<Value> {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    package init(_ value: Value) {
        self.value = value
        self.mutex = .allocate(capacity: 1)
        self.mutex.initialize(to: pthread_mutex_t())
        let rc = pthread_mutex_init(self.mutex, nil)
        precondition(rc == 0, "pthread_mutex_init failed: \(rc)")
    }

    deinit {
        pthread_mutex_destroy(self.mutex)
        self.mutex.deinitialize(count: 1)
        self.mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value; keep it short and never block in it.
    package func withLock<Result, Failure: Error>(
        _ body: (inout Value) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        pthread_mutex_lock(self.mutex)
        defer { pthread_mutex_unlock(self.mutex) }
        return try body(&self.value)
    }
}

// The value is reached only under the mutex.
extension Locked: @unchecked Sendable where Value: Sendable {}
