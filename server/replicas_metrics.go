package server

import (
	"github.com/prometheus/client_golang/prometheus"
)

// poolMetrics are the per-pool request and error counters, each
// replica's health and lag, and why replicable reads ran on the primary.
func (a *App) poolMetrics() []prometheus.Collector {
	rs := a.pools
	counter := func(name, help string, labels prometheus.Labels, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels}, f)
	}
	gauge := func(name, help string, labels prometheus.Labels, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, f)
	}
	const reqHelp, errHelp = "Requests run on the pool", "Requests that failed on the pool (a read retried on the primary counts on both)"
	primary := prometheus.Labels{"pool": "primary"}
	out := []prometheus.Collector{
		counter("pgrest_pool_requests_total", reqHelp, primary, func() float64 { return float64(rs.primary.requests.Load()) }),
		counter("pgrest_pool_errors_total", errHelp, primary, func() float64 { return float64(rs.primary.errors.Load()) }),
	}
	for _, rep := range rs.list {
		l := prometheus.Labels{"pool": rep.name}
		out = append(out,
			counter("pgrest_pool_requests_total", reqHelp, l, func() float64 { return float64(rep.stats.requests.Load()) }),
			counter("pgrest_pool_errors_total", errHelp, l, func() float64 { return float64(rep.stats.errors.Load()) }),
			gauge("pgrest_replica_usable", "1 while the replica gets requests (reachable, lag under pgrest-replica-max-lag)", l,
				func() float64 {
					if rep.usable.Load() {
						return 1
					}
					return 0
				}),
			gauge("pgrest_replica_lag_seconds", "Age of the oldest primary WAL the replica has not replayed, at the last check", l,
				func() float64 { return float64(rep.lagMilli.Load()) / 1000 }),
			gauge("pgrest_replica_lag_bytes", "WAL bytes the replica was behind the primary at the last check", l,
				func() float64 { return float64(rep.lagBytes.Load()) }),
		)
	}
	if len(rs.list) > 0 {
		for _, reason := range fallbackReasons {
			c := rs.fallbacks[reason]
			out = append(out, counter("pgrest_replica_fallbacks_total", "Replicable reads run on the primary, by reason",
				prometheus.Labels{"reason": reason}, func() float64 { return float64(c.Load()) }))
		}
	}
	return out
}
