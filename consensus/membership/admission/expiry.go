package admission

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// expiryCollector reports, at each scrape, how long each member region's
// certificate has left (negative once expired), so an operator is warned
// well before the region loses its vote and its connections.
type expiryCollector struct {
	m    *Module
	desc *prometheus.Desc
}

func newExpiryCollector(m *Module) *expiryCollector {
	return &expiryCollector{m: m, desc: prometheus.NewDesc("fsenet_certificate_expiry_seconds",
		"Seconds until each member region's membership certificate expires (negative once expired), as recorded in the replicated membership.",
		[]string{"member"}, nil)}
}

func (c *expiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *expiryCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	for _, r := range c.m.members.View().Regions {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, r.Expiry.Sub(now).Seconds(), r.Code)
	}
}
