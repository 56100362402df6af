import Foundation
import MediaPipeline
import Testing

/// Every startup error names the problem and the fix, found with real GStreamer parsing.
@Suite struct PipelineValidationTests {
    @Test func acceptsAJPEGPipeline() throws {
        try Pipeline.validate("videotestsrc ! video/x-raw,width=64,height=48 ! jpegenc ! appsink name=sink")
    }

    /// The error validating `description` raises; nil, recorded as an issue, when it is accepted.
    func validationError(_ description: String, sourceLocation: SourceLocation = #_sourceLocation) -> PipelineError? {
        do {
            try Pipeline.validate(description)
            Issue.record("accepted: \(description)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    @Test func rejectsBrokenSyntax() {
        guard let error = validationError("videotestsrc ! ! appsink name=sink") else { return }
        guard case .syntax = error else { Issue.record("expected a syntax error, got \(error)"); return }
        #expect(error.description.contains("gst-launch-1.0"))
    }

    @Test func namesAMissingElementAndWhereToGetIt() {
        guard let error = validationError("videotestsrc ! nosuchencoder ! appsink name=sink") else { return }
        #expect(error == .missingElements(["nosuchencoder"], "no element \"nosuchencoder\""))
        #expect(error.description.contains("`nosuchencoder`"))
        #expect(error.description.contains("gst-inspect-1.0"))
    }

    @Test func requiresAnAppSinkNamedSink() {
        #expect(throws: PipelineError.noSink) { try Pipeline.validate("videotestsrc ! jpegenc ! appsink") }
        #expect(throws: PipelineError.sinkNotAppSink("fakesink")) {
            try Pipeline.validate("videotestsrc ! jpegenc ! fakesink name=sink")
        }
        #expect(PipelineError.noSink.description.contains("jpegenc ! appsink name=sink"))
    }

    @Test func rejectsOutputThatIsNotJPEG() {
        guard let error = validationError("videotestsrc ! video/x-raw,width=64,height=48 ! appsink name=sink") else { return }
        guard case .notJPEG(let caps) = error else { Issue.record("expected notJPEG, got \(error)"); return }
        #expect(caps.contains("video/x-raw"))
        #expect(error.description.contains("jpegenc ! appsink name=sink"))
    }

    @Test func rejectsUnknownPropertiesAndUnlinkableElements() {
        if let error = validationError("videotestsrc colour=red ! jpegenc ! appsink name=sink") {
            if case .badProperty = error {
                #expect(error.description.contains("colour"))
            } else {
                Issue.record("expected badProperty, got \(error)")
            }
        }
        if let error = validationError("videotestsrc ! audioconvert ! jpegenc ! appsink name=sink") {
            guard case .link = error else { Issue.record("expected a link error, got \(error)"); return }
        }
    }

    @Test func rejectsAnEmptyDescription() {
        #expect(throws: PipelineError.empty) { try Pipeline.validate("  \n ") }
    }
}

/// Pipeline files: comments and line breaks, and the files the project ships.
@Suite struct PipelineFileTests {
    static let pipelinesFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("pipelines")

    @Test func dropsCommentLinesAndJoinsTheRest() {
        let text = "# a comment\nvideotestsrc\n   # indented comment\n  ! jpegenc quality=70\n\n! appsink name=sink\n"
        #expect(PipelineFile.strip(text) == "videotestsrc ! jpegenc quality=70 ! appsink name=sink")
    }

    @Test(arguments: ["test.pipeline", "camera.pipeline", "camera-mjpeg.pipeline"])
    func shippedPipelineValidatesAndExplainsItsKnobs(file: String) throws {
        let path = Self.pipelinesFolder.appendingPathComponent(file).path
        let description = try PipelineFile.load(path: path)
        try Pipeline.validate(description)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for knob in ["width=", "framerate=", "quality"] {
            #expect(text.contains("# ") && text.lowercased().contains(knob), "\(file) does not explain \(knob)")
        }
    }

    @Test func missingFileIsAnError() {
        #expect(throws: PipelineError.self) { try PipelineFile.load(path: "/nonexistent/framecast.pipeline") }
    }
}
