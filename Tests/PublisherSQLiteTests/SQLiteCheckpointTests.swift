import Dispatch
import Foundation
import GRDB
import PublisherCore
import Testing
@testable import PublisherSQLite

@Suite("Write-ahead log checkpoints off the commit path", .timeLimit(.minutes(5)))
struct SQLiteCheckpointTests {
    /// Ten messages whose bodies take about twenty pages of the log together.
    private func commitPages(_ store: SQLiteStore, round: Int) async throws {
        let body = Data(repeating: UInt8(ascii: "x"), count: 8_000)
        let messages = (0..<10).map { outboxMessage(dedupKey: "round-\(round)-\($0)", body: body) }
        try await store.commit(ledger: [], outbox: messages)
    }

    /// Runs `body` with a fresh store whose checkpointer's own connection is kept busy (no background checkpoint
    /// can run) until `body` calls the release it is given, or returns.
    private func withBackgroundConnectionHeld(
        _ policy: SQLiteCheckpointPolicy,
        _ body: (SQLiteStore, WALCheckpointer, _ release: () -> Void) async throws -> Void
    ) async throws {
        try await withTemporaryStore(configuration: SQLiteStoreConfiguration(checkpoints: policy)) { store, _ in
            let checkpointer = try #require(store.checkpointer)
            let held = DispatchSemaphore(value: 0)
            checkpointer.connection.asyncWriteWithoutTransaction { _ in held.wait() }
            // A second signal after `body` released it already is harmless: nothing waits any more.
            defer { held.signal() }
            try await body(store, checkpointer, { held.signal() })
        }
    }

    @Test("a commit past the threshold leaves the checkpoint to the background connection, and the log restarts after it")
    func backgroundConnectionCheckpoints() async throws {
        try await withBackgroundConnectionHeld(SQLiteCheckpointPolicy(backgroundPages: 50, writerPages: 100_000)) {
            store, checkpointer, release in
            for round in 0..<10 {
                try await commitPages(store, round: round)
            }
            // The commits went past the threshold, and none of them checkpointed: the log only grew.
            let waiting = checkpointer.statistics
            #expect(waiting.latestLog > 150)
            #expect(waiting.latestLog == waiting.longestLog)
            #expect(waiting.background == 0)
            #expect(waiting.byWriter == 0)

            release()
            checkpointer.waitForQueuedCheckpoint()
            let checkpointed = checkpointer.statistics
            #expect(checkpointed.background == 1)
            #expect(checkpointed.backgroundComplete == 1)
            #expect(checkpointed.backgroundFailures == 0)

            // The whole log was copied, so the next commit writes it from its beginning again.
            try await commitPages(store, round: 10)
            #expect(checkpointer.statistics.latestLog < 50)
            #expect(try await store.queueStats().pending == 110)
        }
    }

    @Test("when the background connection falls behind, the writer checkpoints at its own bound")
    func writerCheckpointsAtItsBound() async throws {
        try await withBackgroundConnectionHeld(SQLiteCheckpointPolicy(backgroundPages: 20, writerPages: 100)) {
            store, checkpointer, _ in
            var round = 0
            while checkpointer.statistics.byWriter == 0 && round < 50 {
                try await commitPages(store, round: round)
                round += 1
            }
            let statistics = checkpointer.statistics
            #expect(statistics.byWriter == 1)
            #expect(statistics.background == 0)
            #expect(statistics.longestLog >= 100)
            // The log restarted at the commit after the writer's checkpoint, so it never grew far past the bound.
            try await commitPages(store, round: round)
            #expect(checkpointer.statistics.latestLog < 100)
            #expect(checkpointer.statistics.longestLog < 150)
        }
    }

    @Test("closing the store closes the checkpoint connection too, after its checkpoint; the data is all there")
    func closingClosesTheCheckpointConnection() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("publisher.sqlite")
        let store = try SQLiteStore(
            path: path,
            configuration: SQLiteStoreConfiguration(checkpoints: SQLiteCheckpointPolicy(backgroundPages: 10)))
        for round in 0..<5 {
            try await commitPages(store, round: round)
        }
        let checkpointer = try #require(store.checkpointer)
        #if os(Linux)
        // Writer, reader and checkpointer each hold the file open.
        #expect(openDescriptors(under: directory.url.path).count >= 3)
        #endif
        try store.close()
        #expect(checkpointer.statistics.background >= 1)
        #if os(Linux)
        #expect(openDescriptors(under: directory.url.path) == [])
        #endif
        try checkpointer.close()  // a second close does nothing

        let reopened = try SQLiteStore(path: path)
        defer { try? reopened.close() }
        #expect(try await reopened.queueStats().pending == 50)
    }

    #if os(Linux)
    /// The files under `directory` this process has open, one entry per descriptor.
    private func openDescriptors(under directory: String) -> [String] {
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return descriptors.compactMap { descriptor in
            try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(descriptor)")
        }.filter { $0.hasPrefix(directory) }
    }
    #endif

    @Test("a read-only store runs no checkpoints")
    func readOnlyStoreHasNoCheckpointer() async throws {
        try await withTemporaryStore { store, directory in
            try await store.checkWritable()
            let readOnly = try SQLiteStore(
                path: directory.path("publisher.sqlite"), configuration: SQLiteStoreConfiguration(readOnly: true))
            defer { try? readOnly.close() }
            #expect(readOnly.checkpointer == nil)
            #expect(store.checkpointer != nil)
        }
    }

    @Test("the policy keeps its bounds ordered and positive")
    func policyBounds() {
        let defaults = SQLiteCheckpointPolicy()
        #expect(defaults.backgroundPages == 200)
        #expect(defaults.writerPages == 10_000)
        let inverted = SQLiteCheckpointPolicy(backgroundPages: 500, writerPages: 100)
        #expect(inverted.writerPages == 500)
        let zero = SQLiteCheckpointPolicy(backgroundPages: 0, writerPages: 0)
        #expect(zero.backgroundPages == 1)
        #expect(zero.writerPages == 1)
    }
}
