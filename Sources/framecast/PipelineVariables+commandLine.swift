import ArgumentParser
import Foundation
import MediaPipeline

extension PipelineVariables {
    /// The variables of `serve` and `check` alike: the `--set` assignments, over the environment.
    static func commandLine(_ assignments: [String]) throws(ExitCode) -> PipelineVariables {
        var variables = PipelineVariables(environment: ProcessInfo.processInfo.environment)
        for assignment in assignments {
            do {
                try variables.assign(assignment)
            } catch {
                throw StartupFailure(error.description).exitCode
            }
        }
        return variables
    }
}
