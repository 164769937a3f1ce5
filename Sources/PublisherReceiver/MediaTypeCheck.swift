/// Decides whether a `Content-Type` header announces JSON.
///
/// Only `application/json` is accepted, with any parameters (`; charset=utf-8`) and in any letter case. A request
/// without `Content-Type` is refused too: what a browser may send cross-site without asking first (a form, or
/// `text/plain`) never carries `application/json`, so requiring it keeps a page the operator visits from
/// posting alerts to a daemon on their machine or network.
enum MediaTypeCheck {
    static func isJSON(contentType: String?) -> Bool {
        guard let contentType else { return false }
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
