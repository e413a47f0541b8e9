import CSQLite
import Dispatch
import Logging
import OrchLogWire

/// Copies the WAL into the database file in the background, and keeps the WAL from growing
/// without bound while appends never stop.
///
/// The writer's automatic checkpoints are off; SQLite's WAL hook reports the WAL's frames after
/// each commit. Once `thresholdPages` frames have not been copied yet, a PASSIVE checkpoint runs
/// on this checkpointer's connection and queue, so that no commit waits for the bulk of it.
///
/// SQLite starts the WAL over only when a write transaction begins with every frame copied, and
/// a background pass never copies the frames committed while it ran: under steady appends the
/// WAL then grows for as long as the appends go on (to ~90 MB in one benchmark run). So once a
/// pass has copied all it saw, the few frames committed meanwhile are copied by the writer
/// itself, in the hook (where SQLite's own autocheckpoint runs), and the next transaction starts
/// the WAL over. That costs one commit a short copy and two fsyncs per `thresholdPages` frames.
///
/// When appends pause, no commit comes to trigger either step, and up to a threshold's worth of
/// frames (more, if a pass was running when the last commit landed) would stay in the WAL until
/// the next append. So a check every `quietDelay` that finds no commit since the last one runs
/// one more pass, which copies the rest: within two `quietDelay`s of the last commit, the
/// database file alone holds every acknowledged row.
// @unchecked: `db` is used only on `queue`; the hook runs on the writer's queue; `state` is locked.
final class Checkpointer: @unchecked Sendable {
    private struct State {
        /// A background pass is running.
        var running = false
        /// Frames of the current WAL already copied into the database file.
        var copied: Int32 = 0
        /// The WAL's frames at the last commit. Every commit adds at least one frame, so as many
        /// or fewer at the next one means SQLite started over.
        var frames: Int32 = 0
        /// The last pass copied everything it saw: the writer copies what remains.
        var writerCopiesRest = false
        /// Counts the times the WAL started over, so that a pass that saw an earlier WAL does
        /// not count its frames as copied.
        var generation = 0
        /// Commits seen, so that the quiet check can tell whether the writer paused.
        var commits = 0
        /// Commits whose frames a pass found all copied: the quiet check is done once it has
        /// reached `commits`, however the frame counts of the WALs in between compare.
        var commitsCopied = 0
        /// A quiet check is scheduled.
        var quietCheckArmed = false
        /// `finish()` ran: nothing more is scheduled.
        var finished = false
    }

    private enum QuietStep {
        case none, checkAgain(commits: Int), pass(generation: Int)
    }

    private enum Step {
        case none, background(generation: Int, commits: Int), onWriter
    }

    private let db: Database
    private let queue = DispatchQueue(label: "orchlog.store.checkpoint")
    private let thresholdPages: Int32
    private let quietDelay: DispatchTimeInterval
    private let state = Locked(State())
    private let logger: Logger

    init(db: Database, thresholdPages: Int32, quietDelay: Duration, logger: Logger) throws {
        // A connection opens the WAL at its first read; before that a checkpoint on it copies
        // nothing and says so with SQLITE_OK.
        try db.execute("SELECT 1 FROM sqlite_schema LIMIT 1")
        self.db = db
        self.thresholdPages = max(1, thresholdPages)
        let quietMicros = max(1, Int(quietDelay / .microseconds(1)))
        self.quietDelay = .microseconds(quietMicros)
        self.logger = logger
    }

    /// Installs the WAL hook on the writer's connection. The checkpointer must outlive it.
    func attach(to writer: Database) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite3_wal_hook(writer.handle, { context, handle, _, frames in
            guard let context, let handle else { return SQLITE_OK }
            Unmanaged<Checkpointer>.fromOpaque(context).takeUnretainedValue().walGrew(to: frames, writer: handle)
            return SQLITE_OK
        }, context)
    }

    /// After each of the writer's commits, on its queue.
    private func walGrew(to frames: Int32, writer: OpaquePointer) {
        let (step, armQuietCheck) = self.state.withLock { state -> (Step, Int?) in
            state.commits += 1
            var armQuietCheck: Int?
            if !state.quietCheckArmed && !state.finished {
                state.quietCheckArmed = true
                armQuietCheck = state.commits
            }
            return (self.step(&state, frames: frames), armQuietCheck)
        }
        if let commits = armQuietCheck {
            self.scheduleQuietCheck(commits: commits)
        }
        switch step {
        case .none:
            break
        case .background(let generation, let commits):
            self.queue.async { self.backgroundPass(generation: generation, commits: commits) }
        case .onWriter:
            // The writer is between transactions here; the frames are few and in the page cache.
            if let (walFrames, copied) = self.checkpoint(writer) {
                self.state.withLock { state in
                    state.copied = max(state.copied, copied)
                    if copied == walFrames { state.commitsCopied = state.commits }
                }
            }
        }
    }

    /// What the commit that left `frames` in the WAL calls for.
    private func step(_ state: inout State, frames: Int32) -> Step {
        if frames <= state.frames {
            // The transaction just committed started the WAL over: nothing of it is copied.
            state.copied = 0
            state.writerCopiesRest = false
            state.generation += 1
        }
        state.frames = frames
        let uncopied = frames - min(state.copied, frames)
        if state.running { return .none }
        // What was committed during a pass is a small fraction of what the pass copied; more
        // than a threshold's worth gets another background pass first.
        if state.writerCopiesRest && uncopied <= self.thresholdPages {
            state.writerCopiesRest = false
            return .onWriter
        }
        if uncopied >= self.thresholdPages {
            state.running = true
            return .background(generation: state.generation, commits: state.commits)
        }
        return .none
    }

    /// Checks, `quietDelay` from now, whether any commit came after the `commits`th.
    private func scheduleQuietCheck(commits: Int) {
        self.queue.asyncAfter(deadline: .now() + self.quietDelay) { [weak self] in
            self?.quietCheck(commits: commits)
        }
    }

    /// On `queue`: a pass over what the WAL still holds if the writer has been quiet; otherwise
    /// another look later, while commits go on.
    private func quietCheck(commits seen: Int) {
        let step = self.state.withLock { state -> QuietStep in
            if state.finished { return .none }
            // Still committing, or a pass is queued: look again after the next quiet stretch.
            if state.commits != seen || state.running { return .checkAgain(commits: state.commits) }
            guard state.commitsCopied < state.commits else {
                state.quietCheckArmed = false
                return .none
            }
            state.running = true
            return .pass(generation: state.generation)
        }
        switch step {
        case .none:
            break
        case .checkAgain(let commits):
            self.scheduleQuietCheck(commits: commits)
        case .pass(let generation):
            self.backgroundPass(generation: generation, commits: seen)
            // The next look ends the checks once everything is copied, or tries again if a
            // reader's snapshot kept some frames from being copied.
            self.scheduleQuietCheck(commits: seen)
        }
    }

    /// A pass over the WAL as of the `commits`th commit (or later).
    private func backgroundPass(generation: Int, commits: Int) {
        let result = self.checkpoint(self.db.handle)
        self.state.withLock { state in
            state.running = false
            guard let (walFrames, copied) = result else { return }
            // Everything in the WAL, which holds at least the first `commits` commits, is copied.
            if copied == walFrames { state.commitsCopied = max(state.commitsCopied, commits) }
            guard generation == state.generation else { return }
            state.copied = max(state.copied, copied)
            // A reader's snapshot can keep frames from being copied; then the WAL cannot start
            // over yet and the writer has nothing to finish.
            state.writerCopiesRest = copied == walFrames && walFrames > 0
        }
    }

    /// A PASSIVE checkpoint on `handle`: the WAL's frames and how many are now copied, or nil.
    private func checkpoint(_ handle: OpaquePointer) -> (walFrames: Int32, copied: Int32)? {
        var walFrames: Int32 = 0
        var copied: Int32 = 0
        let rc = sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, &walFrames, &copied)
        guard rc == SQLITE_OK else {
            // BUSY: another process is checkpointing; the next commit tries again.
            self.logger.debug("checkpoint failed", metadata: ["error": "\(String(cString: sqlite3_errstr(rc)))"])
            return nil
        }
        return (walFrames, copied)
    }

    /// Waits for a running checkpoint and runs a final one that empties the WAL.
    func finish() {
        self.state.withLock { $0.finished = true }
        self.queue.sync {
            _ = try? self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }
}
