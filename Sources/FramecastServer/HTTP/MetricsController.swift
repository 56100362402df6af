import Hummingbird
import HTTPTypes
import NIOCore
import Prometheus

/// `GET /metrics`: every stream's metrics in the Prometheus text format.
struct MetricsController<Context: RequestContext> {
    let registry: PrometheusCollectorRegistry

    func addRoutes(to router: Router<Context>) {
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            headers[.cacheControl] = "no-store"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }
}
