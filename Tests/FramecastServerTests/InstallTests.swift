import Foundation
import Testing

/// `make install` and `make uninstall` into a scratch DESTDIR with the debug binary (no release
/// build), and the installed systemd units checked by systemd-analyze, which needs no running
/// systemd.
@Suite(.serialized) struct InstallTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// What `make install PREFIX=/usr/local` installs, as the install section of the README
    /// lists it (`theReadmeListsTheInstalledFiles` keeps the two the same).
    static let installedFiles = [
        "/usr/local/bin/framecast",
        "/usr/local/lib/systemd/system/framecast.service",
        "/usr/local/lib/systemd/system/framecast.socket",
        "/usr/local/share/framecast/Web/app.js",
        "/usr/local/share/framecast/Web/index.html",
        "/usr/local/share/framecast/Web/style.css",
        "/usr/local/share/framecast/framecast.yaml.example",
        "/usr/local/share/framecast/pipelines/camera-mjpeg.pipeline",
        "/usr/local/share/framecast/pipelines/camera.pipeline",
        "/usr/local/share/framecast/pipelines/relay.pipeline",
        "/usr/local/share/framecast/pipelines/test.pipeline",
        "/usr/local/share/man/man1/framecast.1",
    ]

    /// The exposure `systemd-analyze security --offline=true` gives framecast.service (0 is
    /// the most confined, 10 the least). An edit that loosens the sandbox fails
    /// `theServiceSandboxIsNoLooserThanMeasured`; one that tightens it may lower this.
    static let exposureCeiling = 1.5

    /// The checks the service fails on purpose (each left out with its reason in the unit). The
    /// exposure is rounded to a tenth, which dropping one light setting (MemoryDenyWriteExecute=)
    /// does not move: any other failed check fails the test.
    static let acceptedExposures: Set = [
        "RootDirectory=/RootImage=", "SupplementaryGroups=", "PrivateDevices=", "DeviceAllow=",
        "RestrictAddressFamilies=~AF_UNIX", "RestrictAddressFamilies=~AF_(INET|INET6)", "PrivateNetwork=",
        "IPAddressDeny=", "PrivateUsers=", "ProcSubset=",
    ]

    @Test func installPutsTheListedFilesUnderThePrefixAndUninstallRemovesThem() throws {
        try withScratchFolder { destination in
            try install(into: destination)
            #expect(try files(under: destination) == Self.installedFiles)

            let units = destination.appendingPathComponent("usr/local/lib/systemd/system")
            let service = try String(contentsOf: units.appendingPathComponent("framecast.service"), encoding: .utf8)
            #expect(service.split(separator: "\n").contains("ExecStart=/usr/local/bin/framecast serve"))
            let example = destination.appendingPathComponent("usr/local/share/framecast/framecast.yaml.example")
            #expect(try String(contentsOf: example, encoding: .utf8).contains("file: /usr/local/share/framecast/pipelines/test.pipeline"))
            for file in ["framecast.service", "framecast.socket"].map(units.appendingPathComponent) + [example] {
                let text = try String(contentsOf: file, encoding: .utf8)
                #expect(!text.contains("@BINDIR@") && !text.contains("@DATADIR@"), "\(file.lastPathComponent) keeps a placeholder")
            }
            let manual = try String(contentsOf: destination.appendingPathComponent("usr/local/share/man/man1/framecast.1"), encoding: .utf8)
            #expect(manual.contains(".It Em serve") && manual.contains(".It Em check"), "the man page lacks a subcommand")

            let uninstall = try run("make", make("uninstall", into: destination), in: Self.repository)
            try #require(uninstall.status == 0, "make uninstall: \(uninstall.output)")
            #expect(try files(under: destination) == [])
            #expect(!FileManager.default.fileExists(atPath: destination.appendingPathComponent("usr/local/share/framecast").path))
        }
    }

    /// `systemd-analyze verify` loads the units as systemd would and checks that ExecStart's
    /// binary is there: the installed copies are verified with ExecStart pointing into DESTDIR,
    /// and MANPATH at the installed man page for Documentation=man:framecast(1).
    @Test func systemdAcceptsTheInstalledUnits() throws {
        try withScratchFolder { destination in
            try withScratchFolder { units in
                try install(into: destination)
                let binary = destination.appendingPathComponent("usr/local/bin/framecast").path
                for unit in ["framecast.service", "framecast.socket"] {
                    let installed = try String(contentsOf: destination.appendingPathComponent("usr/local/lib/systemd/system/\(unit)"), encoding: .utf8)
                    try installed.replacingOccurrences(of: "/usr/local/bin/framecast", with: binary)
                        .write(to: units.appendingPathComponent(unit), atomically: true, encoding: .utf8)
                }
                let verify = try run(
                    "systemd-analyze", ["verify"] + ["framecast.service", "framecast.socket"].map { units.appendingPathComponent($0).path },
                    environment: ["MANPATH": destination.appendingPathComponent("usr/local/share/man").path])
                #expect(verify.status == 0)
                // verify reports unknown keys and unparsable values as warnings and still exits 0.
                #expect(verify.output.isEmpty, "systemd-analyze verify: \(verify.output)")
            }
        }
    }

    @Test func theServiceSandboxIsNoLooserThanMeasured() throws {
        try withScratchFolder { units in
            let service = units.appendingPathComponent("framecast.service")
            let template = try String(contentsOf: Self.repository.appendingPathComponent("packaging/systemd/framecast.service"), encoding: .utf8)
            try template.replacingOccurrences(of: "@BINDIR@", with: "/usr/local/bin").replacingOccurrences(of: "@DATADIR@", with: "/usr/local/share/framecast")
                .write(to: service, atomically: true, encoding: .utf8)
            let security = try run("systemd-analyze", ["security", "--offline=true", service.path])
            // "→ Overall exposure level for framecast.service: 1.5 OK 🙂"
            let line = try #require(security.output.split(separator: "\n").first { $0.contains("Overall exposure level") }, "\(security.output)")
            let words = line.split(separator: ":").last?.split(separator: " ") ?? []
            let exposure = try #require(words.first.flatMap { Double($0) }, "no exposure in: \(line)")
            #expect(exposure <= Self.exposureCeiling, "\(line)")
            // "✗ PrivateDevices=      Service potentially has access to hardware devices      0.2"
            let failed = security.output.split(separator: "\n").filter { $0.hasPrefix("✗ ") }
                .compactMap { $0.dropFirst(2).split(separator: " ").first.map(String.init) }
            #expect(Set(failed).subtracting(Self.acceptedExposures) == [], "\(security.output)")
        }
    }

    /// The service runs with MemoryDenyWriteExecute=yes. The kernel's PR_SET_MDWE refuses the
    /// same mappings (writable and executable, or made executable later) to the installed
    /// binary, which checks the installed pipelines: the test pattern's ORC code must still
    /// run, from /tmp as under the service (its HOME is not writable).
    @Test(.enabled(if: kernelRefusesWritableExecutableMemory, "needs PR_SET_MDWE (Linux 6.3)"))
    func theInstalledPipelinesRunWithoutWritableExecutableMemory() throws {
        try withScratchFolder { destination in
            try install(into: destination)
            let binary = destination.appendingPathComponent("usr/local/bin/framecast").path
            // The service's HOME (/) is not writable and it has no TMPDIR or XDG_RUNTIME_DIR.
            let check = try run(
                "python3", ["-c", Self.withoutWritableExecutableMemory, binary, "check"],
                environment: ["HOME": destination.appendingPathComponent("no-home").path], unsetting: ["TMPDIR", "XDG_RUNTIME_DIR"])
            #expect(check.status == 0, "\(check.output)")
            // Found by the binary in its own prefix, the test pattern run to its first frame.
            #expect(check.output.contains("test") && check.output.contains("1280x720"), "\(check.output)")
            #expect(check.output.contains("camera-mjpeg"), "\(check.output)")
        }
    }

    @Test func theReadmeListsTheInstalledFiles() throws {
        let text = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let found = text.range(of: "### Install as a service").map { text[$0.upperBound...] }
        let section = try #require(found, "no '### Install as a service' section")
        let body = section.range(of: "\n## ").map { section[..<$0.lowerBound] } ?? section
        let listed = body.split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("/usr/local/") && !$0.contains(" ") }
        #expect(listed.sorted() == Self.installedFiles.sorted())
    }

    // MARK: - Helpers

    /// make's arguments for installing the debug binary beside this test bundle into `folder`.
    private func make(_ target: String, into folder: URL) -> [String] {
        [target, "SKIP_BUILD=1", "FRAMECAST_BINARY=\(FramecastProcess.executable.path)", "DESTDIR=\(folder.path)", "PREFIX=/usr/local"]
    }

    private func install(into folder: URL) throws {
        let install = try run("make", make("install", into: folder), in: Self.repository)
        try #require(install.status == 0, "make install: \(install.output)")
    }

    /// Every file below `folder` (symbolic links included, folders not), as absolute paths
    /// inside it, sorted.
    private func files(under folder: URL) throws -> [String] {
        let enumerator = try #require(FileManager.default.enumerator(atPath: folder.path))
        var found: [String] = []
        while let relative = enumerator.nextObject() as? String {
            let type = try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(relative).path)[.type]
            if type as? FileAttributeType != .typeDirectory { found.append("/" + relative) }
        }
        return found.sorted()
    }

    /// Python's ctypes sets PR_SET_MDWE(PR_MDWE_REFUSE_EXEC_GAIN), kept across exec, then execs
    /// the arguments; exit status 3 if the kernel does not have it.
    static let withoutWritableExecutableMemory = """
        import ctypes, os, sys
        if ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) != 0:
            sys.exit(3)
        os.execv(sys.argv[1], sys.argv[1:])
        """

    static var kernelRefusesWritableExecutableMemory: Bool {
        (try? run("python3", ["-c", withoutWritableExecutableMemory, "/bin/true"]).status) == 0
    }
}

/// Runs `body` with a new folder under the system's temporary folder, then removes the folder
/// and everything in it, whether `body` threw or not.
private func withScratchFolder<T>(_ body: (URL) throws -> T) throws -> T {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("framecast-install-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    return try body(folder)
}

/// Runs `program` (looked up on PATH) to completion: its exit status and its stdout and stderr
/// together. make's own variables from a surrounding `make test` are not passed on: they would
/// override the install paths given here.
private func run(
    _ program: String, _ arguments: [String], in directory: URL? = nil, environment extra: [String: String] = [:], unsetting: [String] = []
) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [program] + arguments
    if let directory { process.currentDirectoryURL = directory }
    var environment = ProcessInfo.processInfo.environment
    for name in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"] + unsetting { environment[name] = nil }
    environment.merge(extra) { _, new in new }
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
