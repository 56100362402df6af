import Dispatch
import Foundation
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing

@testable import FramecastServer

/// A hub consumer that keeps, like every real one, a newest-frame slot, and records what it takes
/// and what it is offered. Used only on its event loop.
final class RecordingConsumer: FrameConsumer {
    private var slot = NewestFrameSlot()
    /// The sequence of each frame taken, in the order taken.
    private(set) var sequences: [UInt64] = []
    /// Every publication offered, in the order offered (stale ones included): (order, sequence).
    private(set) var offered: [(order: UInt64, sequence: UInt64)] = []
    /// With `keepsTaken`, the publication object of each frame taken (held: which loop-local
    /// object it was). Off by default: holding them would keep their frames alive.
    private(set) var taken: [LoopPublication] = []
    private let keepsTaken: Bool
    private(set) var runsEnded = 0
    private(set) var finished = false

    init(keepingTaken: Bool = false) {
        keepsTaken = keepingTaken
    }

    /// A consumer attached to `hub` that took the newest frame, as real consumers do on joining.
    static func attached(to hub: FrameHub, on loop: any EventLoop, keepingTaken: Bool = false) -> RecordingConsumer {
        let consumer = RecordingConsumer(keepingTaken: keepingTaken)
        if let latest = hub.attach(consumer, on: loop)?.latest { _ = consumer.offer(latest) }
        return consumer
    }

    func offer(_ publication: LoopPublication) -> Bool {
        offered.append((publication.order, publication.frame.sequence))
        guard slot.put(publication) != .stale, let taken = slot.take() else { return false }
        sequences.append(taken.frame.sequence)
        if keepsTaken { self.taken.append(taken) }
        return false
    }

    func runEnded(_ run: UInt64) { runsEnded += 1 }

    func hubFinished() { finished = true }
}

/// One stream's frames, ordered under the hub's lock and handed to each loop's consumers.
struct FrameHubTests {
    static func hub() -> FrameHub { FrameHub(metrics: DeliveryFixtures.metrics()) }

    static func isNonDecreasing(_ values: [UInt64]) -> Bool {
        zip(values, values.dropFirst()).allSatisfy { $0 <= $1 }
    }

    /// Regression: a repeat of the newest frame and a new frame could cross (the repeat decided
    /// first, delivered after), sending a client an older frame after a newer one. One thread
    /// publishes, another repeats, as the streaming thread and the repeat timer do.
    @Test func aRepeatAndANewFrameNeverCross() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let loops = Array(group.makeIterator())
        let hub = Self.hub()
        hub.beginRun(1)
        var consumers: [(loop: any EventLoop, consumer: NIOLoopBound<RecordingConsumer>)] = []
        for loop in loops {
            for _ in 0..<3 {
                let consumer = try loop.submit { NIOLoopBound(RecordingConsumer.attached(to: hub, on: loop), eventLoop: loop) }.wait()
                consumers.append((loop, consumer))
            }
        }

        final class Flag: Sendable { let publishing = Atomic(true) }
        let flag = Flag()
        let frames: UInt64 = 3_000
        let done = DispatchGroup()
        done.enter()
        done.enter()
        Thread {
            for sequence in 1...frames { hub.publish(DeliveryFixtures.frame(sequence), run: 1) }
            flag.publishing.store(false, ordering: .releasing)
            done.leave()
        }.start()
        Thread {
            while flag.publishing.load(ordering: .acquiring) { hub.repeatLatest() }
            done.leave()
        }.start()
        done.wait()
        // Each loop runs its tasks in order: these run after every delivery.
        for loop in loops { try loop.submit {}.wait() }

        for (loop, consumer) in consumers {
            let (sequences, offered) = try loop.submit { (consumer.value.sequences, consumer.value.offered) }.wait()
            #expect(Self.isNonDecreasing(sequences), "a consumer took an older frame after a newer one")
            #expect(sequences.last == frames, "the newest frame did not arrive last")
            // Every publication reached the consumer once, and the hub's order follows the frames'.
            let byOrder = offered.sorted { $0.order < $1.order }
            #expect(byOrder.map(\.order) == Array(1...UInt64(byOrder.count)))
            #expect(Self.isNonDecreasing(byOrder.map(\.sequence)))
            #expect(byOrder.count >= Int(frames))
        }
    }

    /// Each loop hands its consumers one object per publication, made on that loop: what hundreds
    /// of clients reference while they write is never an object the other loop's clients
    /// reference too (its reference count would move between the cores at every write).
    @Test func eachLoopsConsumersShareOneLoopLocalPublication() {
        let loops = [EmbeddedEventLoop(), EmbeddedEventLoop()]
        let hub = Self.hub()
        hub.beginRun(1)
        let consumers = loops.map { loop in (0..<3).map { _ in RecordingConsumer.attached(to: hub, on: loop, keepingTaken: true) } }
        hub.publish(DeliveryFixtures.frame(1), run: 1)
        for loop in loops { loop.run() }
        // The objects are held by the consumers: identities cannot be reused addresses.
        let objects = consumers.map { onLoop in Set(onLoop.compactMap { $0.taken.last.map(ObjectIdentifier.init) }) }
        #expect(consumers.allSatisfy { onLoop in onLoop.allSatisfy { $0.taken.count == 1 } })
        #expect(objects.map(\.count) == [1, 1], "consumers of one loop received different objects")
        #expect(objects[0] != objects[1], "two loops shared one object")
        // A consumer joining later on the same loop starts from that loop's object too.
        let late = RecordingConsumer.attached(to: hub, on: loops[1], keepingTaken: true)
        #expect(late.taken.last.map { objects[1].contains(ObjectIdentifier($0)) } == true)
    }

    /// A frame that only the code under test holds, handed to `publish`: the result tells whether
    /// anything still keeps it alive.
    static func publishWatched(_ sequence: UInt64, _ publish: (Frame) -> Void) -> () -> Bool {
        let frame = DeliveryFixtures.frame(sequence)
        weak var watched = frame
        publish(frame)
        return { watched != nil }
    }

    /// A loop keeps its newest publication for the consumers that join it, but not beyond its last
    /// consumer or the end of the run: the frame (and its memory file) is then let go.
    @Test func aLoopLetsItsNewestFrameGoWithItsLastConsumerOrTheRun() {
        let loop = EmbeddedEventLoop()
        let hub = Self.hub()
        hub.beginRun(1)
        let leaving = RecordingConsumer.attached(to: hub, on: loop)
        let first = Self.publishWatched(1) { hub.publish($0, run: 1) }
        loop.run()
        hub.detach(leaving, on: loop)
        hub.publish(DeliveryFixtures.frame(2), run: 1)  // the hub's newest is another frame now
        loop.run()
        #expect(!first(), "the loop kept the frame after its last consumer left")

        let staying = RecordingConsumer.attached(to: hub, on: loop)
        let third = Self.publishWatched(3) { hub.publish($0, run: 1) }
        loop.run()
        hub.endRun(1)
        loop.run()
        #expect(!third(), "the loop kept the frame after its run ended")
        #expect(staying.sequences == [2, 3])
    }

    /// The same when the next run begins before the last one's end arrives (that end is then
    /// ignored), when a frame of an ended run reaches the loop late, and at shutdown.
    @Test func aLoopLetsGoOfAReplacedRunsLateOrFinishedFrames() {
        let loop = EmbeddedEventLoop()
        let hub = Self.hub()
        hub.beginRun(1)
        let watching = RecordingConsumer.attached(to: hub, on: loop)
        let replaced = Self.publishWatched(1) { hub.publish($0, run: 1) }
        loop.run()
        hub.beginRun(2)
        hub.endRun(1)  // too late: ignored
        loop.run()
        #expect(!replaced(), "the loop kept the replaced run's frame")

        // A delivery decided before the run ended, arriving after: its consumers' slots decide
        // whether to take it (as they always did), but the loop does not keep it.
        let fanOut = LoopFanOut(metrics: DeliveryFixtures.metrics())
        let consumer = RecordingConsumer()
        fanOut.add(consumer)
        fanOut.runEnded(2, forgettingThrough: 7)
        let late = Self.publishWatched(7) { fanOut.deliver(Publication(frame: $0, order: 7)) }
        #expect(!late(), "the loop kept a frame the hub had forgotten")
        #expect(consumer.sequences == [7])

        let last = Self.publishWatched(3) { hub.publish($0, run: 2) }
        loop.run()
        hub.finish()
        loop.run()
        #expect(!last(), "the loop kept the newest frame after the hub finished")
        #expect(watching.finished)
    }

    @Test func framesOfARunOtherThanTheCurrentOneAreRefused() {
        let hub = Self.hub()
        #expect(!hub.publish(DeliveryFixtures.frame(1), run: 1), "no run has begun")
        hub.beginRun(1)
        #expect(!hub.publish(DeliveryFixtures.frame(1), run: 2))
        #expect(hub.publish(DeliveryFixtures.frame(1), run: 1))
        hub.beginRun(2)
        #expect(!hub.publish(DeliveryFixtures.frame(2), run: 1))
        #expect(hub.publish(DeliveryFixtures.frame(2), run: 2))
        // An older run never becomes current again, and ending it changes nothing.
        hub.beginRun(1)
        #expect(!hub.publish(DeliveryFixtures.frame(3), run: 1))
        hub.endRun(1)
        #expect(hub.latest?.sequence == 2)
        #expect(hub.publish(DeliveryFixtures.frame(3), run: 2))
    }

    /// The next run's start can reach the hub before the last run's end (decided on two threads):
    /// the older run's newest frame is forgotten all the same, and placeholders are accepted again.
    @Test func beginningARunForgetsAnOlderRunsNewestFrameWhateverTheOrder() {
        let hub = Self.hub()
        hub.beginRun(1)
        hub.publish(DeliveryFixtures.frame(41), run: 1)
        hub.beginRun(2)
        hub.endRun(1)
        #expect(hub.latest == nil)
        #expect(hub.publishPlaceholder(DeliveryFixtures.frame(0, placeholder: true)))
    }

    /// Regression: a viewer arriving during the back-off after a failure was first sent the frame
    /// from before the failure.
    @Test func endingARunForgetsItsNewestFrame() throws {
        let loop = EmbeddedEventLoop()
        let hub = Self.hub()
        hub.beginRun(1)
        let watching = RecordingConsumer.attached(to: hub, on: loop)
        hub.publish(DeliveryFixtures.frame(1), run: 1)
        loop.run()
        hub.endRun(1)
        loop.run()
        #expect(hub.latest == nil)
        #expect(watching.runsEnded == 1)

        let arriving = RecordingConsumer()
        let joined = try #require(hub.attach(arriving, on: loop))
        #expect(joined.latest == nil)
        hub.repeatLatest()
        #expect(!hub.publish(DeliveryFixtures.frame(2), run: 1))
        loop.run()
        #expect(arriving.sequences.isEmpty)
        #expect(watching.sequences == [1])

        hub.beginRun(2)
        hub.publish(DeliveryFixtures.frame(3), run: 2)
        loop.run()
        #expect(arriving.sequences == [3])
        #expect(watching.sequences == [1, 3])
    }

    @Test func aPlaceholderNeverReplacesARealFrameOfTheCurrentRun() {
        let hub = Self.hub()
        let starting = DeliveryFixtures.frame(0, placeholder: true)
        #expect(hub.publishPlaceholder(starting), "before any run")
        hub.beginRun(1)
        let another = DeliveryFixtures.frame(0, placeholder: true)
        #expect(hub.publishPlaceholder(another), "a placeholder replaces a placeholder")
        #expect(hub.latest === another)
        let real = DeliveryFixtures.frame(1)
        #expect(hub.publish(real, run: 1), "a real frame replaces a placeholder")
        #expect(!hub.publishPlaceholder(DeliveryFixtures.frame(0, placeholder: true)))
        #expect(hub.latest === real)
        hub.endRun(1)
        let noSignal = DeliveryFixtures.frame(0, placeholder: true)
        #expect(hub.publishPlaceholder(noSignal), "after the run ended")
        #expect(hub.latest === noSignal)
    }

    @Test func placeholdersReachConsumers() {
        let loop = EmbeddedEventLoop()
        let hub = Self.hub()
        hub.beginRun(1)
        let consumer = RecordingConsumer.attached(to: hub, on: loop)
        hub.publishPlaceholder(DeliveryFixtures.frame(0, placeholder: true))
        hub.publish(DeliveryFixtures.frame(1), run: 1)
        hub.repeatLatest()
        loop.run()
        #expect(consumer.sequences == [0, 1, 1])
    }

    @Test func aDetachedConsumerIsOfferedNothing() {
        let loop = EmbeddedEventLoop()
        let hub = Self.hub()
        hub.beginRun(1)
        let staying = RecordingConsumer.attached(to: hub, on: loop)
        let leaving = RecordingConsumer.attached(to: hub, on: loop)
        hub.publish(DeliveryFixtures.frame(1), run: 1)
        loop.run()
        hub.detach(leaving, on: loop)
        hub.publish(DeliveryFixtures.frame(2), run: 1)
        loop.run()
        #expect(staying.sequences == [1, 2])
        #expect(leaving.sequences == [1])
    }

    @Test func finishingEndsEveryConsumerAndEveryLaterOne() {
        let loop = EmbeddedEventLoop()
        let hub = Self.hub()
        hub.beginRun(1)
        let early = RecordingConsumer.attached(to: hub, on: loop)
        hub.publish(DeliveryFixtures.frame(1), run: 1)
        loop.run()
        hub.finish()
        loop.run()
        #expect(early.finished)
        #expect(hub.latest == nil)
        #expect(!hub.publish(DeliveryFixtures.frame(2), run: 1))
        #expect(!hub.publishPlaceholder(DeliveryFixtures.frame(0, placeholder: true)))
        hub.repeatLatest()
        loop.run()
        #expect(early.sequences == [1])

        // On a loop the hub knows, and on one it never saw.
        for lateLoop in [loop, EmbeddedEventLoop()] {
            let late = RecordingConsumer()
            #expect(hub.attach(late, on: lateLoop) == nil)
            #expect(late.finished)
            #expect(late.offered.isEmpty)
        }
    }
}
