import Foundation

/// Self-signed certificates made by Debian's openssl for one test, in their own directory.
struct TestCertificates: Sendable {
    let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory("tls")
    }

    var certificate: String { directory.file("cert.pem") }
    var key: String { directory.file("key.pem") }

    /// A new EC key and a certificate for localhost and 127.0.0.1 with `commonName`, written to
    /// `certificate` and `key` (or the paths given) by renaming, as certbot's hooks do.
    @discardableResult
    func make(commonName: String, certificate: String? = nil, key: String? = nil) throws -> (certificate: String, key: String) {
        let certificatePath = certificate ?? self.certificate
        let keyPath = key ?? self.key
        let staged = (directory.file("staged-cert.pem"), directory.file("staged-key.pem"))
        let result = try runToExit(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", staged.1, "-out", staged.0, "-days", "2", "-subj", "/CN=\(commonName)",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ])
        guard result.status == 0 else { throw HTTPTestError.malformed("openssl req failed: \(result.error)") }
        _ = rename(staged.1, keyPath)
        _ = rename(staged.0, certificatePath)
        return (certificatePath, keyPath)
    }
}

/// curl, Debian's (OpenSSL with nghttp2), as a real HTTPS and HTTP/2 client.
enum Curl {
    /// Runs curl with `arguments` (certificates not verified: they are the test's own).
    static func run(_ arguments: [String], timeout: Double = 20) throws -> (status: Int32, output: String, error: String) {
        try runToExit("/usr/bin/curl", ["-sS", "-k", "--max-time", String(timeout)] + arguments)
    }

    /// `--write-out` of a request: e.g. `%{http_version} %{http_code}`.
    static func writeOut(_ format: String, _ arguments: [String]) throws -> String {
        let result = try run(["-o", "/dev/null", "-w", format] + arguments)
        return result.output
    }
}

/// Runs a short command to its end: status, stdout, stderr (read while it runs: no full pipe).
func runToExit(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let errorData = LockedData()
    error.fileHandleForReading.readabilityHandler = { handle in errorData.append(handle.availableData) }
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    error.fileHandleForReading.readabilityHandler = nil
    errorData.append(error.fileHandleForReading.readDataToEndOfFile())
    return (process.terminationStatus, String(decoding: outputData, as: UTF8.self), String(decoding: errorData.value, as: UTF8.self))
}

private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ more: Data) { lock.withLock { data.append(more) } }
    var value: Data { lock.withLock { data } }
}
