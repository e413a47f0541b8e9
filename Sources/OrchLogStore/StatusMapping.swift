import OrchLogWire

extension SQLiteError {
    /// The one place storage failures become statuses: trouble with the disk or a lock is
    /// UNAVAILABLE (retryable, nothing was written), anything else INTERNAL.
    var status: RPCStatus {
        if self.isStorageTrouble {
            return .unavailable("storage unavailable: \(self.message)")
        }
        return .internal("storage error: \(self.message)")
    }
}
