import Foundation
import OrchLogWire

extension UUID {
    /// A new time-ordered UUIDv7 (RFC 9562): ids generated later sort later, which keeps the
    /// server's primary-key index appends cheap.
    public static func v7() -> UUID {
        UUID(uuidString: LogID.generateV7())!
    }

    /// Lowercase 8-4-4-4-12 text, as orchlog stores ids.
    var wireString: String { self.uuidString.lowercased() }
}
