import MediaPipeline
import Testing

/// `${NAME}` and `${NAME:-default}`: precedence, and every way a value can be missing or unsafe.
@Suite struct PipelineVariableTests {
    static let template = "videotestsrc\n! video/x-raw,width=${WIDTH:-1280},height=${HEIGHT}\n! jpegenc ! appsink name=sink"

    func expand(_ variables: PipelineVariables, text: String = template, stream: String = "cam") throws(PipelineError) -> String {
        try PipelineTemplate.expand(text, source: "cam.pipeline", stream: stream, variables: variables)
    }

    @Test func defaultsEnvironmentGlobalAndPerStreamValuesInOrder() throws {
        var variables = PipelineVariables(environment: ["HEIGHT": "480"])
        #expect(try expand(variables).contains("width=1280,height=480"))
        variables.environment["WIDTH"] = "800"
        #expect(try expand(variables).contains("width=800,height=480"))
        try variables.assign("WIDTH=640")
        #expect(try expand(variables).contains("width=640,height=480"))
        try variables.assign("cam.WIDTH=320")
        try variables.assign("other.WIDTH=100")
        #expect(try expand(variables).contains("width=320,height=480"))
        #expect(try expand(variables, stream: "other").contains("width=100,height=480"))
    }

    @Test func aVariableWithNoValueNamesTheFileLineAndVariable() {
        do {
            _ = try expand(PipelineVariables())
            Issue.record("a missing variable was accepted")
        } catch {
            #expect(error == .variable(source: "cam.pipeline", line: 2, name: "HEIGHT", problem: error.problem))
            #expect(error.description.contains("cam.pipeline, line 2"))
            #expect(error.description.contains("--set HEIGHT="))
        }
    }

    /// `,` adds a caps field, `;` a caps structure, `!` an element, space or quotes a property,
    /// brackets and parentheses caps syntax: none may reach the description.
    @Test(arguments: [
        "480 ! filesink location=/tmp/x", "480!fakesink", "\"480\"", "'480'", "480\tx", "a\\b", "320,format=GRAY8",
        "320;video/x-raw", "(int)320", "[1,2]", "{1,2}", "<1>", "480\n", "480\u{0}", "480\u{2028}", "é", "$X", "a b", "480#",
    ])
    func valuesThatCouldChangeThePipelineAreRefused(value: String) {
        var variables = PipelineVariables()
        variables.global["HEIGHT"] = value
        do {
            _ = try expand(variables)
            Issue.record("\(value.debugDescription) was accepted")
        } catch {
            // The error names the variable and says what a value may hold.
            #expect(error.description.contains("HEIGHT"))
            #expect(error.description.contains("letters, digits"))
        }
    }

    /// URLs, device paths and numbers stay one token and are inserted as they are.
    @Test(arguments: ["rtsp://user:pass@host:554/path?x=1&y=2", "/dev/video0", "1280", "0.5", "http://cam.local/mjpg%20stream", "a_b-c+d~e"])
    func urlsPathsAndNumbersAreAccepted(value: String) throws {
        var variables = PipelineVariables()
        variables.global["HEIGHT"] = value
        #expect(try expand(variables).contains(value))
    }

    @Test func commentsAndBlankLinesAreDroppedButCountedInLineNumbers() {
        let text = "# ${NOT_A_VARIABLE_IN_A_COMMENT}\n\nvideotestsrc ! ${MISSING} ! appsink name=sink"
        do {
            _ = try expand(PipelineVariables(), text: text)
            Issue.record("accepted")
        } catch {
            guard case .variable(_, let line, let name, _) = error else { Issue.record("\(error)"); return }
            #expect(line == 3)
            #expect(name == "MISSING")
        }
    }

    @Test func malformedReferencesAndAssignmentsAreErrors() {
        #expect(throws: PipelineError.self) { try expand(PipelineVariables(), text: "videotestsrc ! ${WIDTH ! appsink name=sink") }
        #expect(throws: PipelineError.self) { try expand(PipelineVariables(), text: "videotestsrc ! ${9X} ! appsink name=sink") }
        var variables = PipelineVariables()
        #expect(throws: PipelineError.self) { try variables.assign("NOVALUE") }
        #expect(throws: PipelineError.self) { try variables.assign("Bad Stream.X=1") }
        #expect(throws: PipelineError.self) { try variables.assign("a.b.c=1") }
    }

    @Test func streamNames() {
        for good in ["front-door", "cam0", "0", "a_b-c"] { #expect(StreamName.isValid(good), "\(good)") }
        for bad in ["", "-a", "_a", "Front", "a b", "a/b", "a.b", "ä"] { #expect(!StreamName.isValid(bad), "\(bad)") }
    }
}

extension PipelineError {
    fileprivate var problem: String {
        if case .variable(_, _, _, let problem) = self { return problem }
        return ""
    }
}
