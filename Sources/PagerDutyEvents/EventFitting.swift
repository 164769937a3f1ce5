extension AlertEvent {
    /// This event adjusted so PagerDuty accepts it instead of answering 400.
    ///
    /// - `payload.summary` is truncated to ``EventLimits/summaryMaxCharacters`` (see ``Swift/String/truncated(toCharacters:)``).
    /// - A `dedup_key` longer than ``EventLimits/dedupKeyMaxCharacters`` is replaced by a prefix of it plus the
    ///   SHA-256 of the whole key, so the same long key always maps to the same short one.
    /// - Images whose `src` is not `https` are dropped.
    /// - When the encoded event exceeds ``EventLimits/eventMaxBytes``, `custom_details` is shrunk, largest values
    ///   first, and a `_truncated` note in it says what was removed; only if that is not enough are links and
    ///   images dropped and long free-text fields cut. Summary, severity and source are always kept.
    public func fittedToLimits() -> AlertEvent {
        EventSizeFitter.fit(withFieldLimits())
    }

    /// ``fittedToLimits()`` and its encoding (``EventEncoding``), computed together so an event that already fits
    /// is encoded once, not once to measure and once to send.
    /// - Throws: `EncodingError` when a value cannot be represented in JSON.
    public func fittedAndEncoded() throws -> (event: AlertEvent, body: [UInt8]) {
        try EventSizeFitter.fitAndEncode(withFieldLimits())
    }

    /// Summary, dedup key and images within PagerDuty's limits; the size is not looked at.
    private func withFieldLimits() -> AlertEvent {
        var event = self
        if let summary = event.payload?.summary {
            event.payload?.summary = summary.truncated(toCharacters: EventLimits.summaryMaxCharacters)
        }
        event.dedupKey = event.dedupKey.map(DedupKeyShortener.shortened)
        event.images = HTTPSImages.keep(event.images)
        return event
    }
}

extension ChangeEvent {
    /// This change event adjusted so PagerDuty accepts it: summary truncated, non-`https` images dropped, and
    /// `custom_details` shrunk (with a `_truncated` note) when the event exceeds ``EventLimits/eventMaxBytes``.
    /// See ``AlertEvent/fittedToLimits()``.
    public func fittedToLimits() -> ChangeEvent {
        EventSizeFitter.fit(withFieldLimits())
    }

    /// ``fittedToLimits()`` and its encoding, computed together (see ``AlertEvent/fittedAndEncoded()``).
    /// - Throws: `EncodingError` when a value cannot be represented in JSON.
    public func fittedAndEncoded() throws -> (event: ChangeEvent, body: [UInt8]) {
        try EventSizeFitter.fitAndEncode(withFieldLimits())
    }

    /// Summary and images within PagerDuty's limits; the size is not looked at.
    private func withFieldLimits() -> ChangeEvent {
        var event = self
        event.payload.summary = event.payload.summary.truncated(toCharacters: EventLimits.summaryMaxCharacters)
        event.images = HTTPSImages.keep(event.images)
        return event
    }
}

/// Replaces a too-long dedup key by a stable, shorter one.
enum DedupKeyShortener {
    static func shortened(_ key: String) -> String {
        guard key.unicodeScalars.count > EventLimits.dedupKeyMaxCharacters else { return key }
        let digest = SHA256.hexDigest(key.utf8)
        let prefixScalars = EventLimits.dedupKeyMaxCharacters - digest.count - 1
        return key.wholeCharacterPrefix(maxScalars: prefixScalars) + "~" + digest
    }
}

/// Keeps only images PagerDuty accepts: those with an `https` source.
enum HTTPSImages {
    static func keep(_ images: [Image]?) -> [Image]? {
        guard let images else { return nil }
        let kept = images.filter { $0.src.lowercased().hasPrefix("https://") }
        return kept.isEmpty ? nil : kept
    }
}

/// An event whose size can be brought under the limit.
protocol SizeFittableEvent: Encodable {
    /// The payload's `custom_details`.
    var customDetails: JSONValue? { get set }
    /// Drops links and images and cuts free-text fields other than the summary, the last resort.
    mutating func dropExtrasAndCutText()
}

extension AlertEvent: SizeFittableEvent {
    var customDetails: JSONValue? {
        get { payload?.customDetails }
        set { payload?.customDetails = newValue }
    }

    mutating func dropExtrasAndCutText() {
        links = nil
        images = nil
        client = client?.truncated(toCharacters: EventSizeFitter.lastResortTextCharacters)
        if let url = clientURL, url.utf8.count > EventSizeFitter.lastResortTextCharacters { clientURL = nil }
        guard var payload else { return }
        let limit = EventSizeFitter.lastResortTextCharacters
        payload.source = payload.source.truncated(toCharacters: limit)
        payload.component = payload.component?.truncated(toCharacters: limit)
        payload.group = payload.group?.truncated(toCharacters: limit)
        payload.class = payload.class?.truncated(toCharacters: limit)
        payload.timestamp = payload.timestamp?.truncated(toCharacters: 64)
        self.payload = payload
    }
}

extension ChangeEvent: SizeFittableEvent {
    var customDetails: JSONValue? {
        get { payload.customDetails }
        set { payload.customDetails = newValue }
    }

    mutating func dropExtrasAndCutText() {
        links = nil
        images = nil
        payload.source = payload.source?.truncated(toCharacters: EventSizeFitter.lastResortTextCharacters)
        payload.timestamp = payload.timestamp?.truncated(toCharacters: 64)
    }
}

/// Brings an encoded event under ``EventLimits/eventMaxBytes``.
enum EventSizeFitter {
    /// The length free-text fields are cut to when shrinking `custom_details` was not enough.
    static let lastResortTextCharacters = 1024
    /// Room kept below the limit for the note and for estimate errors.
    private static let headroomBytes = 512
    private static let shrinkRounds = 8

    static func fit<Event: SizeFittableEvent>(_ original: Event) -> Event {
        guard let size = EventEncoding.encodedSize(original), size > EventLimits.eventMaxBytes else { return original }
        return shrink(original, size: size)
    }

    /// The fitted event and its bytes; an event that already fits is encoded exactly once.
    static func fitAndEncode<Event: SizeFittableEvent>(_ original: Event) throws -> (event: Event, body: [UInt8]) {
        let body = try EventEncoding.encode(original)
        guard body.count > EventLimits.eventMaxBytes else { return (original, body) }
        let fitted = shrink(original, size: body.count)
        return (fitted, try EventEncoding.encode(fitted))
    }

    /// Shrinks an event whose encoding is `size` bytes, more than ``EventLimits/eventMaxBytes``.
    private static func shrink<Event: SizeFittableEvent>(_ original: Event, size: Int) -> Event {
        var event = original
        var shrinker = CustomDetailsShrinker(event.customDetails)
        for _ in 0..<shrinkRounds {
            guard let size = EventEncoding.encodedSize(event) else { return event }
            if size <= EventLimits.eventMaxBytes { return event }
            guard shrinker.shrink(savingAtLeast: size - EventLimits.eventMaxBytes + headroomBytes) else { break }
            event.customDetails = shrinker.details
        }
        if let size = EventEncoding.encodedSize(event), size <= EventLimits.eventMaxBytes { return event }
        shrinker.removeEverything()
        shrinker.noteExtrasDropped()
        event.customDetails = shrinker.details
        event.dropExtrasAndCutText()
        return event
    }
}

/// Shrinks `custom_details` deterministically: the largest values go first (ties broken by key), a long string
/// is trimmed rather than dropped when trimming saves enough, and a `_truncated` note records what happened.
struct CustomDetailsShrinker {
    static let noteKey = "_truncated"
    /// A string value is trimmed only if at least this many bytes of it would remain; otherwise it is dropped.
    private static let smallestTrimmedValueBytes = 1024
    private static let namesListedInNote = 20
    private static let noteNameCharacters = 64

    private var entries: [String: JSONValue]
    private var nonObjectDetails: JSONValue?
    private var removedKeys: [String] = []
    private var trimmedKeys: [String] = []
    private var nonObjectRemoved = false
    private var extrasDropped = false

    init(_ details: JSONValue?) {
        switch details {
        case .object(let entries)?:
            self.entries = entries
        case let other:
            self.entries = [:]
            self.nonObjectDetails = other
        }
    }

    /// The shrunk `custom_details`, with the note when anything was removed.
    var details: JSONValue? {
        if let nonObjectDetails, !nonObjectRemoved { return nonObjectDetails }
        var result = entries
        if let note { result[Self.noteKey] = .string(note) }
        return result.isEmpty && nonObjectDetails == nil && removedKeys.isEmpty ? nil : .object(result)
    }

    /// Removes or trims values until about `bytes` bytes are saved. Returns false when nothing was left to shrink.
    mutating func shrink(savingAtLeast bytes: Int) -> Bool {
        if nonObjectDetails != nil {
            guard !nonObjectRemoved else { return false }
            nonObjectRemoved = true
            return true
        }
        let candidates = entries.keys.filter { $0 != Self.noteKey }
            .map { key in (key: key, size: Self.encodedEntrySize(key: key, value: entries[key]!)) }
            .sorted { $0.size != $1.size ? $0.size > $1.size : $0.key < $1.key }
        guard !candidates.isEmpty else { return false }
        var stillNeeded = bytes
        for candidate in candidates where stillNeeded > 0 {
            let keptBytes = candidate.size - stillNeeded
            if case .string(let text)? = entries[candidate.key], keptBytes >= Self.smallestTrimmedValueBytes {
                entries[candidate.key] = .string(Self.trim(text, toEncodedBytes: keptBytes))
                if !trimmedKeys.contains(candidate.key) { trimmedKeys.append(candidate.key) }
                stillNeeded = 0
            } else {
                entries[candidate.key] = nil
                removedKeys.append(candidate.key)
                trimmedKeys.removeAll { $0 == candidate.key }
                stillNeeded -= candidate.size
            }
        }
        return true
    }

    /// Removes every value; only the note remains.
    mutating func removeEverything() {
        if nonObjectDetails != nil {
            nonObjectRemoved = true
            return
        }
        let remaining = entries.keys.filter { $0 != Self.noteKey }.sorted()
        for key in remaining {
            entries[key] = nil
            removedKeys.append(key)
            trimmedKeys.removeAll { $0 == key }
        }
        entries[Self.noteKey] = nil
    }

    /// Records in the note that links, images and long text fields were also cut.
    mutating func noteExtrasDropped() {
        extrasDropped = true
    }

    private var note: String? {
        var parts: [String] = []
        if nonObjectRemoved { parts.append("custom_details (not an object) removed") }
        if !removedKeys.isEmpty { parts.append("removed: " + Self.listed(removedKeys)) }
        if !trimmedKeys.isEmpty { parts.append("trimmed: " + Self.listed(trimmedKeys)) }
        if extrasDropped { parts.append("links and images removed, long text fields cut") }
        guard !parts.isEmpty else { return nil }
        return "event exceeded PagerDuty's \(EventLimits.eventMaxBytes / 1024) KB limit; " + parts.joined(separator: "; ")
    }

    private static func listed(_ keys: [String]) -> String {
        let shown = keys.prefix(namesListedInNote).map { $0.truncated(toCharacters: noteNameCharacters) }
        let more = keys.count - shown.count
        return shown.joined(separator: ", ") + (more > 0 ? " and \(more) more" : "")
    }

    private static func encodedEntrySize(key: String, value: JSONValue) -> Int {
        // `{"key":value}` minus the braces, plus the separating comma.
        (EventEncoding.encodedSize(JSONValue.object([key: value])) ?? Int.max / 4) - 1
    }

    /// The longest whole-character prefix of `text` (ending with "…") whose JSON encoding fits `bytes`.
    private static func trim(_ text: String, toEncodedBytes bytes: Int) -> String {
        var low = 0
        var high = text.unicodeScalars.count
        var best = ""
        while low <= high {
            let middle = (low + high) / 2
            let candidate = text.truncated(toCharacters: middle)
            if (EventEncoding.encodedSize(JSONValue.string(candidate)) ?? Int.max) <= bytes {
                best = candidate
                low = middle + 1
            } else {
                high = middle - 1
            }
        }
        return best
    }
}
