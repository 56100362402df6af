import NIOCore
import NIOHTTP1

/// Closes a connection whose request cannot be parsed. With the WebSocket upgrade in the
/// pipeline, a parse error of the first request is otherwise swallowed and the connection stays
/// open, answered by nothing, for as long as the client likes.
final class MalformedRequestCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError || error is ByteToMessageDecoderError {
            context.close(promise: nil)
        }
        context.fireErrorCaught(error)
    }
}
