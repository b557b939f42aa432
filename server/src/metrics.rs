//! Prometheus metrics: requests by route pattern and status, a latency histogram (actix-web-prom),
//! and the state of the database pool, read at scrape time.

use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{IntGaugeVec, Opts, Registry};

use crate::db::DbPool;

pub fn build(pool: DbPool) -> anyhow::Result<PrometheusMetrics> {
    let registry = Registry::new();
    registry.register(Box::new(PoolCollector::new(pool)?))?;
    PrometheusMetricsBuilder::new("fieldvisit")
        .registry(registry)
        .endpoint("/metrics")
        .mask_unmatched_patterns("UNMATCHED")
        .buckets(&[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
        .build()
        .map_err(|e| anyhow::anyhow!("metrics: {e}"))
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
