/// `HostPolicy`: the `Host` header and the WebSocket upgrade's `Origin`, on a server bound to
/// loopback (where DNS rebinding and cross-site WebSocket hijacking matter).
///
/// Input: up to three fields split on NUL: the `Host` header, the `Origin` header, and an
/// `--allow-host` value (each left out when its field is absent). Two policies are checked: bound
/// to 127.0.0.1 with nothing allowed besides, and bound to ::1 with that `--allow-host`.
///
/// Invariants: on the bare loopback policy an allowed `Host`'s name is in `loopbackNames`, and an
/// allowed `Origin` names a loopback host too; with `--allow-host` the name may also be that host's;
/// `hostName(of:)` gives a lower-case name without a port that reads back to itself; on the bare
/// policy a refusal's reason holds no control byte (it goes back to the sender; with `--allow-host`
/// it also lists that value as given, which comes from the operator).
private let bare = HostPolicy(bindHost: "127.0.0.1", allowHosts: [], allowOrigins: [])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let fields = FuzzInput(data, size).fields
    let host: String? = fields[0]
    let origin: String? = fields.count > 1 ? fields[1] : nil
    let allowHost: String? = fields.count > 2 ? fields[2] : nil

    for header in [host, origin, allowHost].compactMap({ $0 }) {
        if let name = HostPolicy.hostName(of: header) {
            invariant(!name.isEmpty && name == name.lowercased(), "hostName(of: \(header.debugDescription)) = \(name.debugDescription)")
            invariant(HostPolicy.hostName(of: name) == name, "hostName(of: \(header.debugDescription)) = \(name.debugDescription), which does not read back to itself")
            invariant(name.hasPrefix("[") || !name.contains(":"), "hostName(of: \(header.debugDescription)) = \(name.debugDescription) kept a port")
        }
    }

    check(bare, host: host, origin: origin, allowed: HostPolicy.loopbackNames, echoesOnlyTheSender: true)
    if let allowHost {
        let policy = HostPolicy(bindHost: "::1", allowHosts: [allowHost], allowOrigins: [])
        let extra = HostPolicy.hostName(of: allowHost) ?? allowHost.lowercased()
        check(policy, host: host, origin: origin, allowed: HostPolicy.loopbackNames.union([extra]), echoesOnlyTheSender: false)
    }
    return 0
}

private func check(_ policy: HostPolicy, host: String?, origin: String?, allowed: Set<String>, echoesOnlyTheSender: Bool) {
    for version11 in [false, true] {
        switch policy.checkHost(host, version11: version11) {
        case .allow:
            if let host {
                let name = HostPolicy.hostName(of: host)
                invariant(name.map(allowed.contains) ?? false, "Host \(host.debugDescription) (name \(name.debugDescription)) was allowed on a loopback server")
            } else {
                invariant(!version11, "an HTTP/1.1 request without Host was allowed")
            }
        case .refuse(let status, let reason):
            invariant([400, 421].contains(status), "Host refused with status \(status)")
            invariant(!echoesOnlyTheSender || reason.isFreeOfControlBytes, "the Host refusal echoes a control byte: \(reason.debugDescription)")
        }
    }

    switch policy.checkWebSocketOrigin(origin, host: host) {
    case .allow:
        guard let origin else { return }
        // No --allow-origin: only the server's own origin, whose host is the request's Host. When
        // that Host is also one the server answers to, the origin is a loopback page.
        guard let host, case .allow = policy.checkHost(host, version11: true) else { return }
        var normalized = Substring(origin.lowercased())
        while normalized.hasSuffix("/") { normalized = normalized.dropLast() }
        let scheme = ["http://", "https://"].first(where: normalized.hasPrefix)
        invariant(scheme != nil, "Origin \(origin.debugDescription) is not http(s) and was allowed without --allow-origin")
        let name = HostPolicy.hostName(of: String(normalized.dropFirst(scheme?.count ?? 0)))
        invariant(
            name.map(allowed.contains) ?? false,
            "Origin \(origin.debugDescription) (host \(name.debugDescription)) may open the WebSocket of a loopback server reached as \(host.debugDescription)")
    case .refuse(let status, let reason):
        invariant(status == 403, "Origin refused with status \(status)")
        invariant(!echoesOnlyTheSender || reason.isFreeOfControlBytes, "the Origin refusal echoes a control byte: \(reason.debugDescription)")
    }
}
