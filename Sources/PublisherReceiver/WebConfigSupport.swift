import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import PublisherWebConfig
import Synchronization

/// Who may call the receiver: the `--auth-token*` / `--basic-auth-*` credentials and the web configuration's
/// `basic_auth_users`. A request passes when it carries any configured credential.
///
/// - Webhooks and change events: open when neither is configured; otherwise any configured credential passes.
/// - `/` and `/metrics`: open unless the web configuration names users (as before it existed); then any
///   configured credential passes (a web config user, or the flags' token or basic credentials).
/// - `/healthz`, `/readyz` and `/v1/pagerduty` do not use this (the last checks PagerDuty's signature).
struct ReceiverAuthorization: Sendable {
    let flags: RequestAuthenticator?
    let web: LiveWebConfig?

    /// Whether `authorization` may post webhooks and change events.
    func allowsIngest(_ authorization: String?) async -> Bool {
        let users = web?.current.users
        if flags == nil && users == nil { return true }
        if let flags, flags.isAuthorized(authorization) { return true }
        guard let users else { return false }
        return await users.isAuthorized(authorization)
    }

    /// Whether `authorization` may read `/` and `/metrics`.
    func allowsReading(_ authorization: String?) async -> Bool {
        guard let users = web?.current.users else { return true }
        if let flags, flags.isAuthorized(authorization) { return true }
        return await users.isAuthorized(authorization)
    }

    /// The answer to a read refused: 401 asking for basic credentials (a browser shows its login box).
    static var readRefusal: Response {
        var response = ReceiverRejection(status: .unauthorized, reason: "missing or invalid credentials").response
        response.headers[.wwwAuthenticate] = "Basic realm=\"pagerduty-publisher\", charset=\"UTF-8\""
        return response
    }
}

/// TLS in front of the receiver's HTTP/1.1 channel, with hummingbird's `TLSChannel`, re-made when the web
/// configuration in force changes: each new connection gets the certificate, key and settings in force when it
/// opened; connections already open keep theirs.
struct ReloadingTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    /// The `TLSChannel` of the newest configuration, made on the first connection after a reload.
    final class Current: Sendable {
        let made: Mutex<(generation: Int, channel: TLSChannel<Base>)?> = Mutex(nil)
    }

    let base: Base
    let web: LiveWebConfig
    let current: Current

    init(base: Base, web: LiveWebConfig) {
        self.base = base
        self.web = web
        current = Current()
    }

    /// The `TLSChannel` for the configuration in force.
    func channel() throws -> TLSChannel<Base> {
        let loaded = web.current
        if let made = current.made.withLock({ $0 }), made.generation == loaded.generation { return made.channel }
        guard let tls = loaded.tls else { throw WebConfigProblems(problems: ["TLS is not configured."]) }
        let channel = try TLSChannel(base, configuration: tls)
        current.made.withLock { $0 = (loaded.generation, channel) }
        return channel
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            return try self.channel().setup(channel: channel, logger: logger)
        } catch {
            logger.error("The TLS configuration cannot be used; closing the connection", metadata: ["error": "\(error)"])
            return channel.eventLoop.makeFailedFuture(error)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
