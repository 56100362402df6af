import MediaPipeline

extension PipelineFault {
    /// The fault with URL passwords masked in every field (element messages quote locations).
    var masked: PipelineFault {
        PipelineFault(element: element.map(CredentialMask.mask), message: CredentialMask.mask(message), debug: debug.map(CredentialMask.mask))
    }
}

extension BusEvent {
    var masked: BusEvent {
        switch self {
        case .error(let fault): .error(fault.masked)
        case .warning(let fault): .warning(fault.masked)
        case .endOfStream: .endOfStream
        }
    }
}
