package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics serves PostgREST's Prometheus metrics (references/observability)
// and pgrest's own (plan memo, schema version). Every value is read when
// scraped, so nothing is updated on the request path but two counters.
func (a *App) metrics() http.Handler {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, labels prometheus.Labels, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels}, f)
	}
	loads := "The total number of times the schema cache was loaded"
	reg.MustRegister(
		gauge("pgrst_schema_cache_query_time_seconds", "The query time in seconds of the last schema cache load",
			func() float64 { return a.schema.Stats().LastLoadDuration.Seconds() }),
		counter("pgrst_schema_cache_loads_total", loads, prometheus.Labels{"status": "SUCCESS"},
			func() float64 { return float64(a.schema.Stats().Loads) }),
		counter("pgrst_schema_cache_loads_total", loads, prometheus.Labels{"status": "FAIL"},
			func() float64 { return float64(a.schema.Stats().Failures) }),
		counter("pgrst_db_pool_timeouts_total", "The total number of pool connection timeouts", nil,
			func() float64 { return float64(a.exec.Timeouts()) }),
		gauge("pgrst_db_pool_available", "Available connections in the pool",
			func() float64 { return float64(a.pool.Stat().IdleConns()) }),
		gauge("pgrst_db_pool_waiting", "Requests waiting to acquire a pool connection",
			func() float64 { return float64(a.exec.Waiting()) }),
		gauge("pgrst_db_pool_max", "Max pool connections",
			func() float64 { return float64(a.pool.Stat().MaxConns()) }),
		counter("pgrest_internal_errors_total", "Failures inside pgrest: 5xx answers and errors with no client to tell", nil,
			func() float64 { return float64(a.internalErrors.Load()) }),
		counter("pgrest_plan_cache_hits_total", "Requests whose SQL came from the plan memo", nil,
			func() float64 { return float64(a.planner.Hits()) }),
		counter("pgrest_plan_cache_misses_total", "Requests whose SQL was compiled", nil,
			func() float64 { return float64(a.planner.Misses()) }),
		gauge("pgrest_realtime_subscriptions", "Open realtime subscriptions",
			func() float64 { return float64(a.realtime.Stats().Subscriptions) }),
		counter("pgrest_realtime_events_sent_total", "Realtime events written to subscribers", nil,
			func() float64 { return float64(a.realtime.Stats().EventsSent) }),
		counter("pgrest_realtime_dropped_subscribers_total", "Realtime subscribers dropped for being too slow", nil,
			func() float64 { return float64(a.realtime.Stats().Dropped) }),
		gauge("pgrest_realtime_replication_lag_bytes", "WAL the server has that realtime has not dispatched yet",
			func() float64 { return float64(a.realtime.Stats().LagBytes) }),
		gauge("pgrest_realtime_replication_lag_seconds", "Commit-to-dispatch delay of the last transaction realtime handled",
			func() float64 { return a.realtime.Stats().LagSeconds }),
		gauge("pgrest_schema_version", "The schema-cache version being served (the last DDL event id it reflects)",
			func() float64 {
				if s := a.holder.Load(); s != nil {
					return float64(s.Version)
				}
				return 0
			}),
	)
	reg.MustRegister(a.poolMetrics()...)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
