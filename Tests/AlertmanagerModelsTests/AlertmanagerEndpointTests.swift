import AlertmanagerModels
import Testing

@Suite("Alertmanager endpoint validation", .timeLimit(.minutes(2)))
struct AlertmanagerEndpointTests {
    @Test(arguments: [
        ("http://alertmanager:9093", "http://alertmanager:9093", "alertmanager:9093"),
        ("http://alertmanager:9093/", "http://alertmanager:9093", "alertmanager:9093"),
        ("https://am.example.com", "https://am.example.com", "am.example.com:443"),
        ("http://am.example.com", "http://am.example.com", "am.example.com:80"),
        ("HTTP://AM:9093/alertmanager/", "http://am:9093/alertmanager", "am:9093/alertmanager"),
        ("http://127.0.0.1:9093/prefix/am", "http://127.0.0.1:9093/prefix/am", "127.0.0.1:9093/prefix/am"),
        ("http://[::1]:9093", "http://[::1]:9093", "[::1]:9093"),
        ("  http://am:9093  ", "http://am:9093", "am:9093"),
    ])
    func validURLsAreNormalised(url: String, baseURL: String, displayName: String) throws {
        let endpoint = try AlertmanagerEndpoint(url: url)
        #expect(endpoint.baseURL == baseURL)
        #expect(endpoint.displayName == displayName)
        #expect(endpoint.description == baseURL)
    }

    @Test(arguments: [
        ("", "empty"),
        ("alertmanager:9093", "scheme"),
        ("ftp://am:21", "http or https"),
        ("http://", "no host"),
        ("http://:9093", "no host"),
        ("http://am:port", "port"),
        ("http://am:0", "port"),
        ("http://am:70000", "port"),
        ("http://am:9093/api?x=1", "query"),
        ("http://am:9093/#top", "fragment"),
        ("http://am 1:9093", "spaces"),
        ("http://[::1:9093", "IPv6"),
        ("http://am:9093/a/../b", ".."),
    ])
    func invalidURLsAreRejectedWithAReason(url: String, expectedWords: String) {
        let error = #expect(throws: AlertmanagerAPIError.self) {
            _ = try AlertmanagerEndpoint(url: url)
        }
        #expect(error?.reason.contains(expectedWords) == true, "\(String(describing: error))")
        #expect(error?.reason.hasPrefix("invalid Alertmanager URL") == true)
    }

    @Test func credentialsInTheURLAreRefusedWithoutQuotingThem() {
        let error = #expect(throws: AlertmanagerAPIError.self) {
            _ = try AlertmanagerEndpoint(url: "https://admin:s3cr3t-Passw0rd@am.example.com/")
        }
        let reason = error?.reason ?? ""
        #expect(reason.contains("auth options"))
        #expect(!reason.contains("s3cr3t-Passw0rd"))
        #expect(!reason.contains("admin"))
        #expect(!(error?.description.contains("s3cr3t-Passw0rd") ?? true))
    }
}
