public import CoreMetrics
import Metrics

/// One stream's counters, gauges and delivery-time histogram (swift-metrics, exported by
/// swift-prometheus at `/metrics`). Every metric carries the `stream` label.
public struct StreamMetrics: Sendable {
    let framesCaptured: Counter
    let framesSent: Counter
    let framesSkipped: Counter
    let bytesSent: Counter
    let clients: Gauge
    let restarts: Counter
    /// From the appsink callback to the write of the frame's last byte to the connection.
    let delivery: Metrics.Timer
    private let stateGauges: [StreamState: Gauge]

    /// `gauges: false` keeps the clients and state gauges out of the registry: the renditions of a
    /// stream share one set of counters (`NAME@renditions`), and a gauge shared by several
    /// renditions would say nothing (their live figures are in `/api/streams`).
    public init(stream: String, factory: any MetricsFactory, gauges: Bool = true) {
        let dimensions = [("stream", stream)]
        let gaugeFactory: any MetricsFactory = gauges ? factory : NOOPMetricsHandler.instance
        framesCaptured = Counter(label: "framecast_frames_captured_total", dimensions: dimensions, factory: factory)
        framesSent = Counter(label: "framecast_frames_sent_total", dimensions: dimensions, factory: factory)
        framesSkipped = Counter(label: "framecast_frames_skipped_total", dimensions: dimensions, factory: factory)
        bytesSent = Counter(label: "framecast_bytes_sent_total", dimensions: dimensions, factory: factory)
        clients = Gauge(label: "framecast_clients", dimensions: dimensions, factory: gaugeFactory)
        restarts = Counter(label: "framecast_pipeline_restarts_total", dimensions: dimensions, factory: factory)
        delivery = Metrics.Timer(label: "framecast_frame_delivery_seconds", dimensions: dimensions, factory: factory)
        var gauges: [StreamState: Gauge] = [:]
        for state in StreamState.allCases {
            gauges[state] = Gauge(label: "framecast_pipeline_state", dimensions: dimensions + [("state", state.rawValue)], factory: gaugeFactory)
        }
        stateGauges = gauges
        enter(.idle)
    }

    /// Sets the gauge of `state` to 1 and the others to 0.
    func enter(_ state: StreamState) {
        for (candidate, gauge) in stateGauges { gauge.record(candidate == state ? 1 : 0) }
    }
}
