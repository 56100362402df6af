import Synchronization

/// `--max-clients`: how many streaming clients (HTTP streams and WebSockets, all streams together)
/// the server serves at once. Past it a new client gets 503 with `Retry-After`.
final class ClientBudget: Sendable {
    let limit: Int
    private let count = Atomic(0)

    init(limit: Int) {
        self.limit = limit
    }

    var current: Int { count.load(ordering: .relaxed) }

    /// A ticket if there is room; release it when the client leaves.
    func admit() -> Ticket? {
        while true {
            let now = count.load(ordering: .relaxed)
            guard now < limit else { return nil }
            if count.compareExchange(expected: now, desired: now + 1, ordering: .acquiringAndReleasing).exchanged {
                return Ticket(budget: self)
            }
        }
    }


    final class Ticket: Sendable {
        private let budget: ClientBudget
        private let released = Atomic(false)

        fileprivate init(budget: ClientBudget) { self.budget = budget }

        func release() {
            if !released.exchange(true, ordering: .acquiringAndReleasing) {
                budget.count.subtract(1, ordering: .acquiringAndReleasing)
            }
        }

        deinit { release() }
    }

    func refusal() -> JSONError {
        JSONError(error: "the server serves at most \(limit) streaming clients at once; try again shortly")
    }
}
