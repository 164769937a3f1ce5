import Tracing

/// The W3C trace context (`traceparent`, `tracestate`) as text, through whichever instrument the executable
/// bootstrapped: with none (tracing off), nothing is injected and nothing extracted, so every function here
/// answers `nil` or an empty context at the cost of a call.
public enum TraceContext {
    /// The `traceparent` of the span in `context` (by default the current task's): kept with an outbox message
    /// so its delivery spans link back to the webhook that queued it. `nil` when tracing is off.
    public static func traceparent(of context: ServiceContext? = ServiceContext.current) -> String? {
        guard let context else { return nil }
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: DictionaryInjector())
        return carrier["traceparent"]
    }

    /// A context holding the remote span that `traceparent` (and `tracestate`, if any) name; empty when tracing is
    /// off or the text is not a valid `traceparent`.
    public static func context(traceparent: String, tracestate: String? = nil) -> ServiceContext {
        var carrier = ["traceparent": traceparent]
        if let tracestate { carrier["tracestate"] = tracestate }
        var context = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(carrier, into: &context, using: DictionaryExtractor())
        return context
    }

    /// Runs `body` in a new span named `name`, a child of the current task's span; the span ends when `body`
    /// returns or throws (a thrown error is recorded on it).
    public static func withChildSpan<T, Failure: Error>(
        _ name: String,
        ofKind kind: SpanKind = .internal,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (any Span) async throws(Failure) -> T
    ) async throws(Failure) -> T {
        let span = startSpan(name, context: ServiceContext.current ?? .topLevel, ofKind: kind)
        defer { span.end() }
        let result: Result<T, Failure> = await ServiceContext.withValue(span.context, isolation: isolation) {
            do throws(Failure) {
                return .success(try await body(span))
            } catch {
                return .failure(error)
            }
        }
        if case .failure(let error) = result { span.recordError(error) }
        return try result.get()
    }

    /// The synchronous form of `withChildSpan`.
    public static func withChildSpan<T, Failure: Error>(
        _ name: String,
        ofKind kind: SpanKind = .internal,
        _ body: (any Span) throws(Failure) -> T
    ) throws(Failure) -> T {
        let span = startSpan(name, context: ServiceContext.current ?? .topLevel, ofKind: kind)
        defer { span.end() }
        let result: Result<T, Failure> = ServiceContext.withValue(span.context) {
            do throws(Failure) {
                return .success(try body(span))
            } catch {
                return .failure(error)
            }
        }
        if case .failure(let error) = result { span.recordError(error) }
        return try result.get()
    }
}

/// Writes injected header fields into a dictionary.
private struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}

/// Reads header fields from a dictionary.
private struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? {
        carrier[key]
    }
}
