package grafana

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/live"
	"github.com/nats-io/nats.go"

	"github.com/keywarden/keywarden/pkg/events"
)

// Stream paths: "all" for every chain, "chain/<id>" for one.
const (
	streamAll         = "all"
	streamChainPrefix = "chain/"
)

// ErrUnknownStream is returned for a stream path that is neither "all" nor "chain/<id>".
var ErrUnknownStream = errors.New("unknown stream path")

// StreamPath is the live-stream path of a chain (nil: every chain).
func StreamPath(chain *uint64) string {
	if chain == nil {
		return streamAll
	}
	return streamChainPrefix + strconv.FormatUint(*chain, 10)
}

// streamSubjects maps a stream path to the NATS subjects it forwards: key states and audit
// records. The chain part is parsed as an integer, so no wildcard can come from the browser.
func streamSubjects(path string) ([]string, error) {
	chain := "*"
	switch {
	case path == streamAll:
	case strings.HasPrefix(path, streamChainPrefix):
		id, err := strconv.ParseUint(strings.TrimPrefix(path, streamChainPrefix), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w %q", ErrUnknownStream, path)
		}
		chain = strconv.FormatUint(id, 10)
	default:
		return nil, fmt.Errorf("%w %q", ErrUnknownStream, path)
	}
	root := events.SubjectRoot + "." + chain
	return []string{root + ".state", root + ".audit.>"}, nil
}

// newStreamFrame is the one schema every live frame has.
func newStreamFrame() *data.Frame {
	return data.NewFrame("live",
		data.NewField("time", nil, []time.Time{}),
		data.NewField("chain_id", nil, []uint64{}),
		data.NewField("kind", nil, []string{}),
		data.NewField("account", nil, []string{}),
		data.NewField("session_key", nil, []string{}),
		data.NewField("status", nil, []string{}),
		data.NewField("detail", nil, []string{}),
		data.NewField("subject", nil, []string{}),
	)
}

// liveFrame answers a "live" query: an empty frame bound to the stream, which Grafana then
// subscribes to.
func liveFrame(r request) (data.Frames, error) {
	if r.dsUID == "" {
		return nil, badf("live query without a data source uid")
	}
	f := newStreamFrame()
	f.RefID = r.refID
	f.Meta = &data.FrameMeta{Channel: live.Channel{Scope: live.ScopeDatasource, Namespace: r.dsUID, Path: StreamPath(r.chain)}.String()}
	return data.Frames{f}, nil
}

// SubscribeStream allows a subscription to a known path when NATS is configured.
func (d *Datasource) SubscribeStream(_ context.Context, req *backend.SubscribeStreamRequest) (*backend.SubscribeStreamResponse, error) {
	if _, err := streamSubjects(req.Path); err != nil || d.settings.NATS.URL == "" {
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusNotFound}, nil
	}
	return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusOK}, nil
}

// PublishStream refuses: the streams are read-only.
func (d *Datasource) PublishStream(context.Context, *backend.PublishStreamRequest) (*backend.PublishStreamResponse, error) {
	return &backend.PublishStreamResponse{Status: backend.PublishStreamStatusPermissionDenied}, nil
}

// streamBuffer is how many messages may wait for the sender before NATS drops (and reports a
// slow consumer); a dashboard is a view, not a ledger.
const streamBuffer = 1024

// RunStream forwards key-state and audit messages of the path's chain until ctx ends (the last
// viewer left) or the NATS connection closes.
func (d *Datasource) RunStream(ctx context.Context, req *backend.RunStreamRequest, sender *backend.StreamSender) error {
	subjects, err := streamSubjects(req.Path)
	if err != nil {
		return err
	}
	nc, closed, err := d.natsConn(ctx)
	if err != nil {
		return fmt.Errorf("run stream %s: %w", req.Path, err)
	}
	msgs := make(chan *nats.Msg, streamBuffer)
	var subs []*nats.Subscription
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()
	for _, subj := range subjects {
		s, err := nc.ChanSubscribe(subj, msgs)
		if err != nil {
			return fmt.Errorf("run stream %s: subscribe %s: %w", req.Path, subj, d.redact(err))
		}
		subs = append(subs, s)
	}
	if err := flush(ctx, nc); err != nil { // the subscriptions are registered before we report running
		return fmt.Errorf("run stream %s: %w", req.Path, d.redact(err))
	}
	log := d.log.With().Str("stream", req.Path).Logger()
	log.Debug().Strs("subjects", subjects).Msg("stream started")
	if d.streamReady != nil {
		d.streamReady(req.Path)
	}
	for {
		select {
		case <-ctx.Done():
			log.Debug().Msg("stream stopped")
			return nil
		case <-closed:
			return fmt.Errorf("run stream %s: nats connection closed", req.Path)
		case m := <-msgs:
			if err := sender.SendFrame(messageFrame(m), data.IncludeAll); err != nil {
				return fmt.Errorf("run stream %s: send frame: %w", req.Path, err)
			}
		}
	}
}

// messageFrame turns one NATS message into a one-row frame. A message that does not decode is
// shown as kind "malformed", never dropped.
func messageFrame(m *nats.Msg) *data.Frame {
	f := newStreamFrame()
	parts := strings.Split(m.Subject, ".")
	var chain uint64
	if len(parts) > 1 {
		chain, _ = strconv.ParseUint(parts[1], 10, 64)
	}
	row := func(t time.Time, kind, account, key, status, detail string) {
		f.AppendRow(t.UTC(), chain, kind, account, key, status, detail, m.Subject)
	}
	malformed := func(err error) {
		row(time.Now(), "malformed", "", "", "", truncate("cannot decode: "+err.Error(), 300))
	}
	switch {
	case strings.HasSuffix(m.Subject, ".state"):
		var k events.KeyState
		if err := json.Unmarshal(m.Data, &k); err != nil {
			malformed(err)
			break
		}
		detail := "access " + k.Permissions.AccessControlType.String()
		if k.Permissions.ValidUntil == 0 {
			detail += ", no expiry"
		} else {
			detail += ", valid until " + unixTime(k.Permissions.ValidUntil).Format(time.RFC3339)
		}
		if !k.Verified {
			detail += ", unverified"
		}
		row(unixTime(k.UpdatedTime), "state", k.Account.Hex(), k.SessionKey.Hex(), string(k.Status), detail)
	case strings.HasSuffix(m.Subject, ".audit.verdict"):
		var v events.Verdict
		if err := json.Unmarshal(m.Data, &v); err != nil {
			malformed(err)
			break
		}
		row(v.EvaluatedAt, "verdict", v.Account.Hex(), v.SessionKey.Hex(), string(v.Severity),
			truncate(v.PolicyID+": "+v.Reason+" -> "+string(v.Action), 300))
	case strings.HasSuffix(m.Subject, ".audit.action"):
		var a events.ActionRecord
		if err := json.Unmarshal(m.Data, &a); err != nil {
			malformed(err)
			break
		}
		detail := string(a.Action) + " (" + a.PolicyID + ")"
		if a.Error != "" {
			detail += ": " + a.Error
		}
		row(a.At, "action", a.Account.Hex(), a.SessionKey.Hex(), string(a.Outcome), truncate(detail, 300))
	default:
		row(time.Now(), "other", "", "", "", "")
	}
	return f
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
