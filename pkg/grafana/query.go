package grafana

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/keywarden/keywarden/pkg/events"
)

// Query types a panel can pick (the query's queryType).
const (
	QueryKeys            = "keys"             // session key states (table, or counts by account)
	QueryEvents          = "events"           // events per kind over time
	QueryVerdicts        = "verdicts"         // verdicts by policy and severity over time, or the latest list
	QueryActions         = "actions"          // action outcomes over time, or each action's current outcome
	QueryCoverage        = "coverage"         // which accounts the enforcer's signer owns
	QueryDecodeFailures  = "decode_failures"  // logs that did not decode (list, or by reason over time)
	QueryIndexerProgress = "indexer_progress" // checkpoints, blocks behind and lag per chain
	QueryLive            = "live"             // an empty frame bound to the live stream of a chain
)

// QueryTypes lists every query type, for the dashboards' tests and the query editor.
var QueryTypes = []string{QueryKeys, QueryEvents, QueryVerdicts, QueryActions, QueryCoverage, QueryDecodeFailures,
	QueryIndexerProgress, QueryLive}

// Formats of a query's result.
const (
	FormatTable      = "table"
	FormatTimeSeries = "time_series"
	FormatByAccount  = "by_account" // keys: active keys counted per account
	FormatSummary    = "summary"    // coverage: covered and uncovered accounts
)

// Query is the JSON a panel sends (besides Grafana's own fields). Zero values do not filter.
type Query struct {
	QueryType string `json:"queryType"`
	// Chain is a chain id; empty (or "all") for every chain.
	Chain      string `json:"chain"`
	Account    string `json:"account"`
	SessionKey string `json:"sessionKey"`
	// Status (keys): active (default), removed, rotated_away, or any.
	Status string `json:"status"`
	// Verified (keys, events): "true" or "false"; empty for both.
	Verified string `json:"verified"`
	// AccessControl (keys): allowlist, denylist or allow_all.
	AccessControl string `json:"accessControl"`
	// NoExpiry (keys): only keys with no valid_until.
	NoExpiry bool `json:"noExpiry"`
	// ExpiringWithin (keys): only keys whose valid_until is in (now, now+d], a Go duration.
	ExpiringWithin string `json:"expiringWithin"`
	// Kinds (events): event kinds to count.
	Kinds []string `json:"kinds"`
	// Policy and Severity (verdicts, actions) filter by policy id and severity.
	Policy   string `json:"policy"`
	Severity string `json:"severity"`
	// Outcome (actions) filters by outcome.
	Outcome string `json:"outcome"`
	// Reason (decode_failures) filters by failure class.
	Reason string `json:"reason"`
	// Format: table, time_series, by_account (keys) or summary (coverage); each type has a default.
	Format string `json:"format"`
	// Limit caps table rows (default 1000, at most 10000).
	Limit int `json:"limit"`
}

const (
	defaultLimit = 1000
	maxLimit     = 10000
	// maxBuckets caps a time series' points whatever the panel asks.
	maxBuckets = 5000
)

// badRequest is a query the data source refuses; its message is shown in the panel.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badf(format string, a ...any) error { return &badRequest{msg: fmt.Sprintf(format, a...)} }

// request is a validated query.
type request struct {
	Query
	chain      *uint64
	account    string
	sessionKey string
	verified   *uint8
	from, to   time.Time
	step       uint64 // seconds per bucket
	limit      int
	now        time.Time
	refID      string
	dsUID      string
}

func parseQuery(dq backend.DataQuery, now time.Time, dsUID string) (request, error) {
	var q Query
	if len(dq.JSON) > 0 {
		if err := json.Unmarshal(dq.JSON, &q); err != nil {
			return request{}, badf("read query: %v", err)
		}
	}
	if dq.QueryType != "" {
		q.QueryType = dq.QueryType
	}
	r := request{Query: q, from: dq.TimeRange.From.UTC(), to: dq.TimeRange.To.UTC(), now: now.UTC(), refID: dq.RefID, dsUID: dsUID}
	if !contains(QueryTypes, q.QueryType) {
		return request{}, badf("unknown query type %q (want one of %s)", q.QueryType, strings.Join(QueryTypes, ", "))
	}
	var errs []string
	switch c := strings.TrimSpace(q.Chain); c {
	case "", "all", "*", "$__all":
	default:
		id, err := strconv.ParseUint(c, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Sprintf("chain %q is not a chain id", c))
		} else {
			r.chain = &id
		}
	}
	var err error
	if r.account, err = addrFilter("account", q.Account); err != nil {
		errs = append(errs, err.Error())
	}
	if r.sessionKey, err = addrFilter("sessionKey", q.SessionKey); err != nil {
		errs = append(errs, err.Error())
	}
	switch q.Verified {
	case "", "any":
	case "true", "1":
		v := uint8(1)
		r.verified = &v
	case "false", "0":
		v := uint8(0)
		r.verified = &v
	default:
		errs = append(errs, fmt.Sprintf("verified %q: want true, false or empty", q.Verified))
	}
	switch q.Status {
	case "", "any", string(events.StatusActive), string(events.StatusRemoved), string(events.StatusRotatedAway):
	default:
		errs = append(errs, fmt.Sprintf("status %q: want active, removed, rotated_away or any", q.Status))
	}
	switch q.AccessControl {
	case "", "allowlist", "denylist", "allow_all":
	default:
		errs = append(errs, fmt.Sprintf("accessControl %q: want allowlist, denylist or allow_all", q.AccessControl))
	}
	if q.ExpiringWithin != "" {
		if d, err := time.ParseDuration(q.ExpiringWithin); err != nil || d <= 0 {
			errs = append(errs, fmt.Sprintf("expiringWithin %q: want a positive duration such as 72h", q.ExpiringWithin))
		}
	}
	for _, k := range q.Kinds {
		if !events.Kind(k).Valid() {
			errs = append(errs, fmt.Sprintf("kind %q is not an event kind", k))
		}
	}
	if q.Severity != "" && events.Severity(q.Severity).Rank() < 0 {
		errs = append(errs, fmt.Sprintf("severity %q: want info, low, medium, high or critical", q.Severity))
	}
	if q.Outcome != "" && !validOutcome(q.Outcome) {
		errs = append(errs, fmt.Sprintf("outcome %q is not an action outcome", q.Outcome))
	}
	if q.Format != "" && !contains(formatsOf[q.QueryType], q.Format) {
		errs = append(errs, fmt.Sprintf("format %q: %s supports %s", q.Format, q.QueryType, strings.Join(formatsOf[q.QueryType], ", ")))
	}
	if q.Format == "" && len(formatsOf[q.QueryType]) > 0 {
		r.Format = formatsOf[q.QueryType][0]
	}
	switch {
	case q.Limit < 0:
		errs = append(errs, "limit must not be negative")
	case q.Limit == 0:
		r.limit = defaultLimit
	default:
		r.limit = min(q.Limit, maxLimit)
	}
	if len(errs) > 0 {
		return request{}, &badRequest{msg: strings.Join(errs, "; ")}
	}
	r.step = bucketSeconds(dq, r.from, r.to)
	return r, nil
}

// formatsOf lists each query type's formats, the default first.
var formatsOf = map[string][]string{
	QueryKeys:            {FormatTable, FormatByAccount},
	QueryEvents:          {FormatTimeSeries, FormatTable},
	QueryVerdicts:        {FormatTimeSeries, FormatTable},
	QueryActions:         {FormatTimeSeries, FormatTable},
	QueryCoverage:        {FormatTable, FormatSummary},
	QueryDecodeFailures:  {FormatTable, FormatTimeSeries},
	QueryIndexerProgress: {FormatTable},
	QueryLive:            {FormatTable},
}

func validOutcome(o string) bool {
	switch events.Outcome(o) {
	case events.OutcomePlanned, events.OutcomeAwaitingApproval, events.OutcomeDenied, events.OutcomeSubmitted,
		events.OutcomeIncluded, events.OutcomeFailed, events.OutcomeResolved, events.OutcomeRetracted,
		events.OutcomeUncovered, events.OutcomeAlerted:
		return true
	}
	return false
}

func addrFilter(name, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "$__all" || s == "all" {
		return "", nil
	}
	a, err := events.ParseAddress(s)
	if err != nil {
		return "", fmt.Errorf("%s %q is not an address", name, s)
	}
	return a.Hex(), nil
}

// bucketSeconds picks the width of a time-series bucket: the panel's interval, widened so
// that the range holds at most MaxDataPoints (and maxBuckets) buckets, in whole seconds.
func bucketSeconds(dq backend.DataQuery, from, to time.Time) uint64 {
	step := math.Ceil(dq.Interval.Seconds())
	span := to.Sub(from).Seconds()
	points := float64(maxBuckets)
	if dq.MaxDataPoints > 0 && float64(dq.MaxDataPoints) < points {
		points = float64(dq.MaxDataPoints)
	}
	if span > 0 {
		step = math.Max(step, math.Ceil(span/points))
	}
	if step < 1 {
		step = 1
	}
	return uint64(step)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// QueryData answers each query of the request independently: one bad query fails only its own
// response.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	uid := ""
	if req.PluginContext.DataSourceInstanceSettings != nil {
		uid = req.PluginContext.DataSourceInstanceSettings.UID
	}
	for _, dq := range req.Queries {
		resp.Responses[dq.RefID] = d.query(ctx, dq, uid)
	}
	return resp, nil
}

func (d *Datasource) query(ctx context.Context, dq backend.DataQuery, dsUID string) backend.DataResponse {
	r, err := parseQuery(dq, d.now(), dsUID)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourcePlugin, err.Error())
	}
	if r.QueryType == QueryLive {
		frames, err := liveFrame(r)
		if err != nil {
			return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourcePlugin, err.Error())
		}
		return backend.DataResponse{Frames: frames}
	}
	conn, err := d.clickhouse(ctx)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, err.Error())
	}
	frames, err := runQuery(ctx, conn, r)
	if err != nil {
		err = d.redact(err)
		var br *badRequest
		if errors.As(err, &br) {
			return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourcePlugin, err.Error())
		}
		return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourceDownstream, err.Error())
	}
	for _, f := range frames {
		f.RefID = dq.RefID
	}
	return backend.DataResponse{Frames: frames}
}

func runQuery(ctx context.Context, conn querier, r request) (data.Frames, error) {
	switch r.QueryType {
	case QueryKeys:
		if r.Format == FormatByAccount {
			return keysByAccount(ctx, conn, r)
		}
		return keys(ctx, conn, r)
	case QueryEvents:
		if r.Format == FormatTable {
			return eventTable(ctx, conn, r)
		}
		return eventSeries(ctx, conn, r)
	case QueryVerdicts:
		if r.Format == FormatTable {
			return verdictTable(ctx, conn, r)
		}
		return verdictSeries(ctx, conn, r)
	case QueryActions:
		if r.Format == FormatTable {
			return actionTable(ctx, conn, r)
		}
		return actionSeries(ctx, conn, r)
	case QueryCoverage:
		if r.Format == FormatSummary {
			return coverageSummary(ctx, conn, r)
		}
		return coverageTable(ctx, conn, r)
	case QueryDecodeFailures:
		if r.Format == FormatTimeSeries {
			return failureSeries(ctx, conn, r)
		}
		return failureTable(ctx, conn, r)
	case QueryIndexerProgress:
		return indexerProgress(ctx, conn, r)
	}
	return nil, badf("unknown query type %q", r.QueryType)
}

// series is a set of counts per (bucket, series name), turned into one wide frame with a
// zero for every empty bucket of the range.
type series struct {
	step   uint64
	from   uint64 // first bucket start
	to     uint64 // last bucket start
	labels string // label name of the series
	counts map[string]map[uint64]uint64
}

func newSeries(r request, label string) *series {
	from := uint64(max(r.from.Unix(), 0)) / r.step * r.step
	to := uint64(max(r.to.Unix(), 0)) / r.step * r.step
	return &series{step: r.step, from: from, to: to, labels: label, counts: map[string]map[uint64]uint64{}}
}

func (s *series) add(name string, bucket, n uint64) {
	m := s.counts[name]
	if m == nil {
		m = map[uint64]uint64{}
		s.counts[name] = m
	}
	m[bucket] += n
}

func (s *series) frame(name string) *data.Frame {
	var times []time.Time
	for b := s.from; b <= s.to; b += s.step {
		times = append(times, time.Unix(int64(b), 0).UTC())
	}
	f := data.NewFrame(name, data.NewField("time", nil, times))
	names := make([]string, 0, len(s.counts))
	for n := range s.counts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		vals := make([]uint64, len(times))
		for i, t := range times {
			vals[i] = s.counts[n][uint64(t.Unix())]
		}
		labels := data.Labels{}
		for i, part := range strings.Split(s.labels, ",") {
			if v := strings.Split(n, " / "); i < len(v) {
				labels[part] = v[i]
			}
		}
		fld := data.NewField("count", labels, vals)
		fld.Config = &data.FieldConfig{DisplayNameFromDS: n}
		f.Fields = append(f.Fields, fld)
	}
	f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesWide, TypeVersion: data.FrameTypeVersion{0, 1}}
	return f
}

// maxUnix is the last second a frame's time field can carry (int64 nanoseconds, April 2262).
const maxUnix = math.MaxInt64 / int64(time.Second)

// unixTime converts unix seconds, clamping far-future values (a valid_until of 2^48-1 is legal
// on chain) to the last representable second.
func unixTime(s uint64) time.Time {
	if s > uint64(maxUnix) {
		s = uint64(maxUnix)
	}
	return time.Unix(int64(s), 0).UTC()
}

// optTime is nil for 0 (the schema's "none").
func optTime(s uint64) *time.Time {
	if s == 0 {
		return nil
	}
	t := unixTime(s)
	return &t
}

// CheckQuery validates a query's JSON (after dashboard variables were replaced) the way
// QueryData does, without running it: dashboards' tests use it.
func CheckQuery(queryJSON []byte) error {
	var head struct {
		QueryType string `json:"queryType"`
	}
	if err := json.Unmarshal(queryJSON, &head); err != nil {
		return badf("read query: %v", err)
	}
	to := time.Unix(3600, 0)
	_, err := parseQuery(backend.DataQuery{QueryType: head.QueryType, JSON: queryJSON,
		TimeRange: backend.TimeRange{From: to.Add(-time.Hour), To: to}}, to, "check")
	return err
}
