import Foundation
import Logging

/// A swift-log handler that writes each record as one line of JSON, logfmt or text, with every message
/// and metadata value passed through a ``SecretRedactor`` first.
///
/// Metadata is merged in swift-log's order: the handler's own metadata, then the metadata provider's,
/// then the metadata given with the call, later values winning. Keys are written in sorted order after
/// `ts`, `level`, `logger` and `msg`; a metadata key that collides with one of those four is written as
/// `meta.<key>`. An error attached to the record is written under `error` unless the metadata has one.
public struct StructuredLogHandler: LogHandler {
    /// The label of the logger, written as `logger`.
    public let label: String
    /// How each record is rendered.
    public let format: LogFormat
    /// The least severe level written.
    public var logLevel: Logger.Level
    /// Metadata added to every record of this handler.
    public var metadata: Logger.Metadata = [:]
    /// Metadata computed for every record (for example from the task-local context).
    public var metadataProvider: Logger.MetadataProvider?

    private let redactor: SecretRedactor
    private let sink: any LogSink
    private let now: @Sendable () -> Date

    /// Creates a handler.
    /// - Parameters:
    ///   - label: The logger's label.
    ///   - format: Rendering of each line.
    ///   - level: The least severe level written.
    ///   - redactor: Hides secrets in messages and metadata values.
    ///   - sink: Receives each rendered line.
    ///   - metadataProvider: Supplies metadata for every record; `nil` for none.
    ///   - now: The clock for the `ts` field; the system clock unless a test fixes it.
    public init(
        label: String,
        format: LogFormat,
        level: Logger.Level = .info,
        redactor: SecretRedactor = SecretRedactor(),
        sink: any LogSink = StandardOutputSink(),
        metadataProvider: Logger.MetadataProvider? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.redactor = redactor
        self.sink = sink
        self.metadataProvider = metadataProvider
        self.now = now
    }

    /// Reads or writes one key of the handler's metadata.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Renders and writes `event` (the `Logger` has already checked its level).
    public func log(event: LogEvent) {
        guard event.level >= logLevel else { return }
        var merged = metadata
        if let provided = metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let explicit = event.metadata {
            merged.merge(explicit) { _, new in new }
        }
        if let error = event.error, merged["error"] == nil {
            merged["error"] = .string(String(describing: error))
        }
        let fields = merged.keys.sorted().map { key in
            (key: redactor.redact(key), value: redact(merged[key]!))
        }
        let record = LogRecord(
            timestamp: LogTimestamp.format(now()),
            level: event.level,
            label: label,
            message: redactor.redact(event.message.description),
            fields: fields
        )
        sink.write(LogLineRenderer.render(record, as: format))
    }

    private func redact(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        switch value {
        case .string(let text):
            .string(redactor.redact(text))
        case .stringConvertible(let convertible):
            .string(redactor.redact(convertible.description))
        case .array(let elements):
            .array(elements.map(redact))
        case .dictionary(let dictionary):
            .dictionary(dictionary.mapValues(redact))
        }
    }

    /// A factory for `LoggingSystem.bootstrap(_:)` that gives every logger a ``StructuredLogHandler``
    /// sharing `redactor` and `sink`.
    ///
    /// ```swift
    /// LoggingSystem.bootstrap(StructuredLogHandler.bootstrap(format: .json, level: .info, redactor: redactor))
    /// ```
    public static func bootstrap(
        format: LogFormat,
        level: Logger.Level,
        redactor: SecretRedactor,
        sink: any LogSink = StandardOutputSink(),
        metadataProvider: Logger.MetadataProvider? = nil
    ) -> @Sendable (String) -> any LogHandler {
        { label in
            StructuredLogHandler(
                label: label,
                format: format,
                level: level,
                redactor: redactor,
                sink: sink,
                metadataProvider: metadataProvider
            )
        }
    }
}
