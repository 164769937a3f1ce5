import AlertmanagerModels
import Logging
import PublisherCore
import StructuredLogging
import Synchronization

/// An ingestor that records every call and answers with a scripted outcome.
final class RecordingIngestor: AlertIngesting {
    struct Call: Sendable {
        var message: WebhookMessage
        var route: String?
    }

    private let state: Mutex<(calls: [Call], outcome: Result<IngestResult, IngestError>)>

    init(outcome: Result<IngestResult, IngestError> = .success(IngestResult(alerts: 0, queued: 0, unchanged: 0))) {
        self.state = Mutex((calls: [], outcome: outcome))
    }

    var calls: [Call] {
        state.withLock { $0.calls }
    }

    func ingest(_ message: WebhookMessage, route: String?) async throws(IngestError) -> IngestResult {
        let outcome = state.withLock { state in
            state.calls.append(Call(message: message, route: route))
            return state.outcome
        }
        return try outcome.get()
    }
}

/// A change event ingestor that records every call and answers with a scripted outcome.
final class RecordingChangeEventIngestor: ChangeEventIngesting {
    struct Call: Sendable {
        var request: ChangeEventRequest
        var route: String?
    }

    private let state: Mutex<(calls: [Call], outcome: Result<IngestResult, IngestError>)>

    init(outcome: Result<IngestResult, IngestError> = .success(IngestResult(alerts: 0, queued: 1, unchanged: 0))) {
        self.state = Mutex((calls: [], outcome: outcome))
    }

    var calls: [Call] {
        state.withLock { $0.calls }
    }

    func ingest(_ request: ChangeEventRequest, route: String?) async throws(IngestError) -> IngestResult {
        let outcome = state.withLock { state in
            state.calls.append(Call(request: request, route: route))
            return state.outcome
        }
        return try outcome.get()
    }
}

/// Readiness with a fixed list of checks.
struct ScriptedReadiness: ReadinessChecking {
    var checks: [ReadinessCheck]

    func readiness() async -> [ReadinessCheck] {
        checks
    }
}

/// A logger writing JSON lines into `sink`, every level, redacting nothing (so a leak would show).
func capturingLogger(_ sink: MemoryLogSink) -> Logger {
    Logger(label: "receiver") { label in
        StructuredLogHandler(label: label, format: .json, level: .trace, redactor: SecretRedactor(), sink: sink)
    }
}
