import ArgumentParser
import FramecastServer

extension BoundedNumber {
    /// A numeric flag's value. The flags are declared as text and read here, so that a value out
    /// of range or no number at all is a start-up failure naming the flag and its range (exit
    /// status 2), the same for `serve` and `check`.
    func read(_ text: String) throws(ExitCode) -> Double {
        switch parse(text) {
        case .success(let value): return value
        case .failure(let refusal): throw StartupFailure(refusal.description).exitCode
        }
    }
}
