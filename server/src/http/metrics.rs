//! Prometheus metrics: requests by route pattern and status, a latency histogram (actix-web-prom),
//! and the state of the database pool, read at scrape time. Label values stay bounded: paths no
//! route matches count as `UNMATCHED`, and requests with a method outside HTTP's standard nine
//! never reach the per-route counters (see [`is_standard_method`]); they count in one counter.

use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntCounter, IntGaugeVec, Opts, Registry};

use crate::db::DbPool;

pub struct Metrics {
    pub prometheus: PrometheusMetrics,
    /// `fieldvisit_http_requests_unknown_method_total`.
    pub unknown_methods: IntCounter,
}

pub fn build(pool: DbPool) -> anyhow::Result<Metrics> {
    let registry = Registry::new();
    registry.register(Box::new(PoolCollector::new(pool)?))?;
    let unknown_methods = IntCounter::new(
        "fieldvisit_http_requests_unknown_method_total",
        "Requests with a method outside HTTP's standard nine, answered 405 or 404 before routing",
    )?;
    registry.register(Box::new(unknown_methods.clone()))?;
    let prometheus = PrometheusMetricsBuilder::new("fieldvisit")
        .registry(registry)
        .endpoint("/metrics")
        .mask_unmatched_patterns("UNMATCHED")
        .buckets(&[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
        .build()
        .map_err(|e| anyhow::anyhow!("metrics: {e}"))?;
    Ok(Metrics { prometheus, unknown_methods })
}

/// GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT: the only method label values.
pub fn is_standard_method(method: &actix_web::http::Method) -> bool {
    use actix_web::http::Method as M;
    [M::GET, M::HEAD, M::POST, M::PUT, M::PATCH, M::DELETE, M::OPTIONS, M::TRACE, M::CONNECT].contains(method)
}

/// `fieldvisit_db_pool_connections{state="idle|in_use|max"}`.
struct PoolCollector {
    pool: DbPool,
    gauge: IntGaugeVec,
}

impl PoolCollector {
    fn new(pool: DbPool) -> anyhow::Result<Self> {
        let gauge = IntGaugeVec::new(
            Opts::new("fieldvisit_db_pool_connections", "Database pool connections by state"),
            &["state"],
        )?;
        Ok(Self { pool, gauge })
    }
}

impl Collector for PoolCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.gauge.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let state = self.pool.state();
        let max = i64::from(self.pool.max_size());
        self.gauge.with_label_values(&["idle"]).set(i64::from(state.idle_connections));
        self.gauge.with_label_values(&["in_use"]).set(i64::from(state.connections - state.idle_connections));
        self.gauge.with_label_values(&["max"]).set(max);
        self.gauge.collect()
    }
}
