/// Decides whether a `Content-Type` header announces JSON.
///
/// `application/json` is accepted with any parameters (`; charset=utf-8`) and in any letter case. A request
/// without `Content-Type` is treated as JSON too: some senders and proxies drop the header, and the body is
/// still checked by the JSON decoder.
enum MediaTypeCheck {
    static func isJSON(contentType: String?) -> Bool {
        guard let contentType else { return true }
        let mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return mediaType.trimmingSpaces().lowercased() == "application/json"
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
