import Foundation
import Logging
import PagerDutyEvents

/// Accepts change event requests: checks each one, writes the change event to the outbox in one transaction,
/// then wakes the route's dispatcher lane. The dispatcher sends it to `/v2/change/enqueue` with the route's key.
public final class ChangeEventPublisher: ChangeEventIngesting {
    private let store: any PublisherStore
    private let routes: RouteTable
    private let clock: any PublisherClock
    private let signal: WorkSignal
    private let logger: Logger

    /// Creates a publisher writing to `store` and waking lanes through `signal` (the dispatcher's).
    public init(store: any PublisherStore, routes: RouteTable, clock: any PublisherClock, signal: WorkSignal, logger: Logger) {
        self.store = store
        self.routes = routes
        self.clock = clock
        self.signal = signal
        self.logger = logger
    }

    public func ingest(_ request: ChangeEventRequest, route requestedRoute: String?) async throws(IngestError) -> IngestResult {
        let routeName = requestedRoute ?? routes.defaultRoute ?? RouteTable.defaultRouteName
        guard routes.route(named: routeName) != nil else {
            throw .unknownRoute(routeName)
        }
        let event = try request.changeEvent()
        let message = try OutboxMessage.change(event, route: routeName, at: clock.now)
        do {
            try await store.commit(ledger: [], outbox: [message])
        } catch {
            logger.error(
                "Could not store a change event; answering 503",
                metadata: ["route": "\(routeName)", "error": "\(error)"]
            )
            throw .storageUnavailable(reason: (error as? StoreError)?.reason ?? "\(error)")
        }
        signal.notify(route: routeName)
        return IngestResult(alerts: 0, queued: 1, unchanged: 0)
    }
}

extension OutboxMessage {
    /// The outbox message delivering `event` (whose routing key is left out) on `route`.
    static func change(_ event: ChangeEvent, route: String, at date: Date) throws(IngestError) -> OutboxMessage {
        var event = event
        event.routingKey = ""
        let body: Data
        do {
            body = Data(try EventEncoding.encode(event))
        } catch {
            throw .invalidAlert(field: "$", reason: "the change event could not be encoded: \(error)")
        }
        return OutboxMessage(route: route, kind: .change, dedupKey: nil, severity: nil, body: body, createdAt: date)
    }
}
