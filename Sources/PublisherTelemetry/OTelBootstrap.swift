import Foundation
import Logging
import OTel
import ServiceLifecycle
import Tracing

/// Whether the daemon exports traces, and the OpenTelemetry SDK that does it.
///
/// Tracing is off unless `--otel` is given or the standard `OTEL_EXPORTER_OTLP_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (and `OTEL_SDK_DISABLED` is not `true`). Off, nothing is
/// bootstrapped: the Tracing API's no-op tracer stays, and spans cost a call each. On, swift-otel's tracer is
/// bootstrapped for traces only (metrics stay Prometheus, logs stay the daemon's own), configured by the `OTEL_*`
/// variables it reads: endpoint, protocol (`grpc`, `http/protobuf`, `http/json`), service name, sampler, resource
/// attributes, headers, batch span processor.
public enum OTelTracing {
    /// The environment variables that turn tracing on by themselves.
    public static let endpointVariables = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]

    /// Whether traces are exported: `flag` (`--otel`), or an OTLP endpoint in `environment`; never when
    /// `OTEL_SDK_DISABLED` is `true`.
    public static func isEnabled(flag: Bool, environment: [String: String]) -> Bool {
        if environment["OTEL_SDK_DISABLED"]?.lowercased() == "true" { return false }
        return flag || endpointVariables.contains { !(environment[$0] ?? "").isEmpty }
    }

    /// The variables whose values are `key=value,…` headers sent to the collector, e.g. an API key.
    public static let headerVariables = [
        "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    ]

    /// The header values of ``headerVariables`` (at least 6 characters long), for the log redactor: swift-otel logs
    /// every `OTEL_*` override with its value, and a header may carry the collector's credential.
    public static func headerSecrets(in environment: [String: String]) -> [String] {
        var secrets: [String] = []
        for variable in headerVariables {
            guard let text = environment[variable], !text.isEmpty else { continue }
            secrets.append(text)
            for header in text.split(separator: ",") {
                let parts = header.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                let value = parts[1].trimmingCharacters(in: .whitespaces)
                if value.count >= 6 { secrets.append(value) }
            }
        }
        return secrets
    }

    /// Bootstraps the process's tracer (once per process) and returns the service that batches and exports
    /// finished spans; run it in the daemon's service group, whose graceful shutdown flushes the last spans.
    ///
    /// - Parameter logger: swift-otel's own diagnostics (export failures) go here.
    /// - Throws: ``OTelTracingError`` when the `OTEL_*` settings cannot make an exporter.
    public static func bootstrap(environment: [String: String], logger: Logger) throws(OTelTracingError) -> any Service {
        var configuration = OTel.Configuration.default
        configuration.serviceName = "pagerduty-publisher"
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        configuration.traces.enabled = true
        configuration.diagnosticLogger = .custom(logger)
        do {
            return try OTel.bootstrap(configuration: configuration, environment: environment)
        } catch {
            throw OTelTracingError(reason: "tracing could not start: \(error)")
        }
    }
}

/// Why tracing could not start.
public struct OTelTracingError: Error, CustomStringConvertible, Sendable {
    /// A sentence; never a header value.
    public var reason: String
    public var description: String { reason }
}
