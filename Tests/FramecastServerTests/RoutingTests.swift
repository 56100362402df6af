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

    @Test func staticFilesNeverLeaveTheWebRoot() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern()) { server in
            try await withDeadline(20, "traversal attempts") {
                let attempts = [
                    "/../Package.swift", "/%2e%2e/Package.swift", "/%2E%2E%2FPackage.swift", "/..%2fPackage.swift",
                    "/Web/../../Package.swift", "/%252e%252e/Package.swift", "//etc/passwd", "/..%5cPackage.swift",
                ]
                for path in attempts {
                    let (head, body) = try await server.get(path)
                    #expect(head.status >= 400 && head.status < 500, "\(path) answered \(head.status)")
                    #expect(!String(decoding: body, as: UTF8.self).contains("PackageDescription"), "\(path) leaked a file")
                    #expect(!String(decoding: body, as: UTF8.self).contains("root:"), "\(path) leaked a file")
                }
            }
        }
    }
}
