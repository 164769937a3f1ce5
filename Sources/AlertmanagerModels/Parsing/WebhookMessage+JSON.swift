import Foundation

extension WebhookMessage {
    /// Decodes a webhook body straight from its bytes: the receiver's fast path.
    ///
    /// It accepts exactly the documents the `Decodable` conformance accepts and builds the same value, several
    /// times faster and with far fewer allocations (see `docs/performance.md`): one pass over the bytes, no
    /// intermediate tree. Unknown members are skipped but checked, so invalid JSON is refused wherever it is.
    /// - Throws: ``WebhookDecodingError`` naming the offending value's path, e.g. `alerts[2].labels.severity`.
    public init(json bytes: UnsafeRawBufferPointer) throws(WebhookDecodingError) {
        try self.init(json: bytes, maxAlerts: .max)
    }

    /// Decodes a webhook body as ``init(json:)-(UnsafeRawBufferPointer)`` does, refusing one with more than
    /// `maxAlerts` alerts as soon as the first alert past the limit begins, before it is decoded: a body of many
    /// tiny alerts costs no more than the limit.
    /// - Throws: ``WebhookDecodingError`` naming the offending value's path; `alerts` when there are too many.
    public init(json bytes: UnsafeRawBufferPointer, maxAlerts: Int) throws(WebhookDecodingError) {
        var reader = JSONByteReader(bytes)
        let kind = try reader.peekKind()
        guard kind == .object else {
            throw reader.wrongType(expected: "an object", found: kind)
        }
        var message = WebhookMessage(version: nil, alerts: [])
        var hasAlerts = false
        var seen = MembersSeen()
        try reader.readObject { reader, name throws(WebhookDecodingError) in
            switch name {
            case "version":
                try seen.first(0, reader: reader, name: name)
                message.version = try reader.readOptionalString()
            case "groupKey":
                try seen.first(1, reader: reader, name: name)
                message.groupKey = try reader.readOptionalString()
            case "truncatedAlerts":
                try seen.first(2, reader: reader, name: name)
                message.truncatedAlerts = try reader.readOptionalInteger()
            case "status":
                try seen.first(3, reader: reader, name: name)
                message.status = try reader.readOptionalAlertStatus()
            case "receiver":
                try seen.first(4, reader: reader, name: name)
                message.receiver = try reader.readOptionalString()
            case "groupLabels":
                try seen.first(5, reader: reader, name: name)
                message.groupLabels = try reader.readOptionalStringMap() ?? [:]
            case "commonLabels":
                try seen.first(6, reader: reader, name: name)
                message.commonLabels = try reader.readOptionalStringMap() ?? [:]
            case "commonAnnotations":
                try seen.first(7, reader: reader, name: name)
                message.commonAnnotations = try reader.readOptionalStringMap() ?? [:]
            case "externalURL":
                try seen.first(8, reader: reader, name: name)
                message.externalURL = try reader.readOptionalString()
            case "alerts":
                try seen.first(9, reader: reader, name: name)
                message.alerts = try reader.readAlerts(maxAlerts: maxAlerts)
                hasAlerts = true
            default: try reader.skipValue()
            }
        }
        try reader.expectEnd()
        guard hasAlerts else {
            throw WebhookDecodingError(reason: "required field \"alerts\" is missing", path: [.member("alerts")])
        }
        self = message
    }

    /// Decodes a webhook body held in an array; see ``init(json:maxAlerts:)``.
    public init(json bytes: [UInt8], maxAlerts: Int = .max) throws(WebhookDecodingError) {
        let decoded = bytes.withUnsafeBytes { buffer in Result { () throws(WebhookDecodingError) in
            try WebhookMessage(json: buffer, maxAlerts: maxAlerts)
        } }
        self = try decoded.get()
    }

    /// The reason a webhook with more than `maxAlerts` alerts is refused with.
    public static func tooManyAlertsReason(maxAlerts: Int) -> String {
        "more than \(maxAlerts) alerts; at most \(maxAlerts) are accepted in one webhook"
    }
}

/// Which of an object's known members were read so far, to refuse one that appears twice: which would count is
/// a guess (the `Decodable` conformance takes the first). Each known member has its own bit.
private struct MembersSeen {
    private var bits: UInt16 = 0

    /// Notes the member with this bit. - Throws: when it appeared before in the same object.
    mutating func first(_ bit: UInt16, reader: JSONByteReader, name: String) throws(WebhookDecodingError) {
        guard bits & (1 << bit) == 0 else { throw reader.duplicateMember(name) }
        bits |= 1 << bit
    }
}

extension JSONByteReader {
    /// The `alerts` array: never `null`, each element an alert object, at most `maxAlerts` of them.
    fileprivate mutating func readAlerts(maxAlerts: Int) throws(WebhookDecodingError) -> [Alert] {
        let kind = try peekKind()
        guard kind == .array else {
            throw wrongType(expected: "an array", found: kind)
        }
        var alerts: [Alert] = []
        try readArray { reader, index throws(WebhookDecodingError) in
            guard index < maxAlerts else {
                throw WebhookDecodingError(
                    reason: WebhookMessage.tooManyAlertsReason(maxAlerts: maxAlerts), path: [.member("alerts")])
            }
            alerts.append(try reader.readAlert())
        }
        return alerts
    }

    /// One alert object; `status` is required.
    private mutating func readAlert() throws(WebhookDecodingError) -> Alert {
        let kind = try peekKind()
        guard kind == .object else {
            throw wrongType(expected: "an object", found: kind)
        }
        var status: AlertStatus?
        var alert = Alert(status: .firing, labels: [:])
        var seen = MembersSeen()
        try readObject { reader, name throws(WebhookDecodingError) in
            switch name {
            case "status":
                try seen.first(0, reader: reader, name: name)
                let kind = try reader.peekKind()
                guard kind != .null else { throw reader.wrongType(expected: "a string", found: kind) }
                status = try reader.readOptionalAlertStatus()
            case "labels":
                try seen.first(1, reader: reader, name: name)
                alert.labels = try reader.readOptionalStringMap() ?? [:]
            case "annotations":
                try seen.first(2, reader: reader, name: name)
                alert.annotations = try reader.readOptionalStringMap() ?? [:]
            case "startsAt":
                try seen.first(3, reader: reader, name: name)
                alert.startsAt = try reader.readOptionalRFC3339Time()
            case "endsAt":
                try seen.first(4, reader: reader, name: name)
                alert.endsAt = try reader.readOptionalRFC3339Time()
            case "generatorURL":
                try seen.first(5, reader: reader, name: name)
                alert.generatorURL = try reader.readOptionalString()
            case "fingerprint":
                try seen.first(6, reader: reader, name: name)
                let fingerprint = try reader.readOptionalString()
                alert.fingerprint = (fingerprint?.isEmpty ?? true) ? nil : fingerprint
            default: try reader.skipValue()
            }
        }
        guard let status else {
            throw WebhookDecodingError(reason: "required field \"status\" is missing", path: path + [.member("status")])
        }
        alert.status = status
        return alert
    }

    /// `firing` or `resolved`, or `nil` for `null`.
    fileprivate mutating func readOptionalAlertStatus() throws(WebhookDecodingError) -> AlertStatus? {
        guard let text = try readOptionalString() else { return nil }
        guard let status = AlertStatus(rawValue: text) else {
            throw invalidValue("must be \"firing\" or \"resolved\"")
        }
        return status
    }

    /// An RFC 3339 time; `nil` for `null`, the empty string and Go's zero time, as the `Decodable` conformance.
    private mutating func readOptionalRFC3339Time() throws(WebhookDecodingError) -> Date? {
        enum Parsed {
            case date(Date)
            case empty
            case invalid(String)
        }
        let parsed = try withOptionalStringBytes { utf8 -> Parsed in
            guard !utf8.isEmpty else { return .empty }
            guard let date = RFC3339.parse(utf8: utf8) else { return .invalid(String(decoding: utf8, as: UTF8.self)) }
            return .date(date)
        }
        switch parsed {
        case nil, .empty?:
            return nil
        case .invalid(let text)?:
            throw invalidValue("\"\(text)\" is not an RFC 3339 time")
        case .date(let date)?:
            return date == RFC3339.goZeroTime ? nil : date
        }
    }
}
