import Testing
@testable import PublisherCore

@Suite("Link URLs: the fast check agrees with URLComponents", .timeLimit(.minutes(2)))
struct WebURLTests {
    static let inputs = [
        "https://grafana.example.com/d/abc?orgId=1&var-host=db-1#panel-2",
        "http://prometheus:9090/graph?g0.expr=up%3D%3D0&g0.tab=1",
        "HTTPS://Example.COM/Path", "http://user:pass@host.example:8080/x", "http://host:80a/", "http://:80/",
        "https://", "http://", "ftp://files.example.com/a", "mailto:ops@example.com", "runbooks/disk.md",
        "  https://padded.example.com  ", "https://exa mple.com", "https://example.com/a b", "https://[::1]:9093/",
        "https://example.com/ünïcode", "https://example.com/<script>", "", "https://example.com:/x",
        "javascript:alert(1)", "https://example.com?x", "https://example.com#top", "http://a@b@c/",
    ]

    @Test(arguments: inputs)
    func agreesWithFoundation(text: String) {
        #expect(EventMapper.webURL(text) == EventMapper.foundationWebURL(text))
    }

    @Test func acceptsOnlyHTTPAndHTTPSWithAHost() {
        #expect(EventMapper.webURL("https://grafana.example.com/d/abc") == "https://grafana.example.com/d/abc")
        #expect(EventMapper.webURL("ftp://files.example.com/a") == nil)
        #expect(EventMapper.webURL("https://") == nil)
        #expect(PlainWebURL.check("https://grafana.example.com/d/abc") == true, "the common case takes the fast path")
    }
}
