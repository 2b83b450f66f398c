package enforcer

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the enforcer's Prometheus collectors.
type Metrics struct {
	Verdicts      *prometheus.CounterVec
	Actions       *prometheus.CounterVec
	EventToSubmit prometheus.Histogram
	EvalSeconds   prometheus.Histogram
	OwnershipLost prometheus.Counter
	NotifyErrors  prometheus.Counter
	Covered       *prometheus.GaugeVec
}

// NewMetrics creates the collectors and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keywarden_enforcer_verdicts_total",
			Help: "Policy breaches found, by policy, severity and action."}, []string{"policy_id", "severity", "action"}),
		Actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keywarden_enforcer_actions_total",
			Help: "Action outcomes recorded, by action and outcome."}, []string{"action", "outcome"}),
		EventToSubmit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "keywarden_enforcer_event_to_submit_seconds",
			Help:    "Time from receiving a breaching key state to the user operation being accepted by the bundler.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 30, 60}}),
		EvalSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "keywarden_enforcer_policy_eval_seconds",
			Help: "Time to evaluate every policy against one key.", Buckets: prometheus.ExponentialBuckets(1e-6, 4, 10)}),
		OwnershipLost: prometheus.NewCounter(prometheus.CounterOpts{Name: "keywarden_enforcer_ownership_lost_total",
			Help: "Accounts that removed the enforcer's signer from their owners."}),
		NotifyErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "keywarden_enforcer_notify_errors_total",
			Help: "Notifications that could not be delivered."}),
		Covered: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "keywarden_enforcer_accounts",
			Help: "Accounts seen, by chain and whether the enforcer's signer is an owner (covered)."}, []string{"chain_id", "covered"}),
	}
	if reg != nil {
		reg.MustRegister(m.Verdicts, m.Actions, m.EventToSubmit, m.EvalSeconds, m.OwnershipLost, m.NotifyErrors, m.Covered)
	}
	return m
}
