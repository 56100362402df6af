import NIOCore
import NIOHTTP2

/// Each HTTP/2 multipart response's flow-control window, so that it hands its stream a frame only
/// when the frame can go out whole at once. A frame handed to a stream whose window is shut would
/// wait inside the HTTP/2 handler, growing old while newer frames arrive; held back instead, the
/// response keeps only the newest frame and sends that one when the reader makes room (the
/// HTTP/1.1 path gets the same from `TCP_NOTSENT_LOWAT`).
///
/// swift-nio-http2 keeps the windows to itself, so they are counted here: a stream's window starts
/// at the client's `SETTINGS_INITIAL_WINDOW_SIZE` (read by this handler, in the connection's
/// pipeline after the HTTP/2 handler), shrinks by what the response sends and grows by the
/// stream's `WINDOW_UPDATE`s (which reach the response's own channel). The connection's window is
/// not counted: browsers open it wide (Chromium: 15 MB), and a shut one holds every stream alike.
/// Used only on the connection's event loop (its streams share it).
final class HTTP2SendWindows: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    /// The client's initial stream window (RFC 9113, 6.5.2: 65,535 until it says otherwise).
    private(set) var initialStreamWindow = 65_535
    /// The windows of the streams being counted, to move them when the setting changes.
    private var windows: [HTTP2StreamID: HTTP2StreamWindow] = [:]

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if case .settings(.settings(let settings)) = frame.payload {
            for setting in settings where setting.parameter == .initialWindowSize {
                // A change moves every open stream's window by the difference (RFC 9113, 6.9.2).
                let delta = setting.value - initialStreamWindow
                initialStreamWindow = setting.value
                for window in windows.values { window.grow(by: delta) }
            }
        }
        context.fireChannelRead(data)
    }

    /// A window for `stream`, counted from its creation (before its request is even read: a
    /// client may open the window with its request, as Firefox does).
    func open(_ stream: HTTP2StreamID) -> HTTP2StreamWindow {
        let window = HTTP2StreamWindow(size: initialStreamWindow)
        windows[stream] = window
        return window
    }

    func close(_ stream: HTTP2StreamID) {
        windows[stream] = nil
    }
}

/// One stream's send window as counted by `HTTP2SendWindows`. Used only on its event loop.
final class HTTP2StreamWindow {
    private(set) var size: Int
    /// The largest the window has been. A frame goes once the window takes it whole, or holds
    /// half of this: a frame bigger than the window would otherwise never go, and clients grant
    /// more only as they read, typically once half their window is consumed (nghttp2, h2).
    private var largest: Int
    /// Called once the window grows.
    private var whenGrown: (() -> Void)?

    init(size: Int) {
        self.size = size
        largest = size
    }

    /// Whether `bytes` go out at once; when not, `whenRoom` is called (once) when the window grows.
    func fits(_ bytes: Int, whenRoom: @escaping () -> Void) -> Bool {
        guard size < min(bytes, max(largest / 2, 1)) else {
            whenGrown = nil
            return true
        }
        whenGrown = whenRoom
        return false
    }

    func sent(_ bytes: Int) {
        size -= bytes
    }

    /// A `WINDOW_UPDATE` (or a change of the initial window).
    func grow(by increment: Int) {
        size += increment
        largest = max(largest, size)
        if increment > 0, let waiter = whenGrown {
            whenGrown = nil
            waiter()
        }
    }

    /// The response ended: nothing waits.
    func cancel() {
        whenGrown = nil
    }
}

/// First in every HTTP/2 stream's channel, from its creation: counts the stream's
/// `WINDOW_UPDATE`s into its window (see `HTTP2SendWindows`) and passes every frame on.
final class HTTP2WindowCounter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload

    let window: HTTP2StreamWindow
    private let windows: HTTP2SendWindows
    private let stream: HTTP2StreamID

    init(windows: HTTP2SendWindows, stream: HTTP2StreamID) {
        self.windows = windows
        self.stream = stream
        window = windows.open(stream)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .windowUpdate(let increment) = unwrapInboundIn(data) {
            window.grow(by: increment)
        }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        window.cancel()
        windows.close(stream)
    }
}
