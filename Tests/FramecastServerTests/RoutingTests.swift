import Foundation
import Testing

/// The page, unknown paths, wrong methods and the web root's boundary.
@Suite(.serialized) struct RoutingTests {
    @Test func pageUnknownPathsAndWrongMethods() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern()) { server in
            try await withDeadline(20, "routing") {
                let (page, html) = try await server.get("/")
                #expect(page.status == 200)
                #expect(page.header("content-type")?.hasPrefix("text/html") == true)
                #expect(String(decoding: html, as: UTF8.self).contains("app.js"))
                let (script, _) = try await server.get("/app.js")
                #expect(script.status == 200)
                #expect(script.header("content-type")?.contains("javascript") == true)

                #expect(try await server.get("/no/such/thing").0.status == 404)
                #expect(try await server.get("/streams").0.status == 404)
                for path in ["/stream", "/snapshot", "/api/status"] {
                    let (head, _) = try await server.get(path, method: "POST")
                    #expect(head.status == 405, "POST \(path)")
                    #expect(head.header("allow") == "GET, HEAD")
                }
                #expect(try await server.get("/api/status", method: "DELETE").0.status == 405)
            }
        }
    }
}
