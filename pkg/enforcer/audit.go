package enforcer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keywarden/keywarden/pkg/events"
)

// Audits records to every sink in order; the first error stops it (the message is then
// redelivered and the records written again, which the sinks' identities make harmless).
type Audits []Audit

var _ Audit = Audits(nil)

// Coverage records in every sink that keeps coverage.
func (a Audits) Coverage(ctx context.Context, chainID uint64, account, signer events.Address, covered bool, at time.Time) error {
	for _, s := range a {
		if c, ok := s.(CoverageRecorder); ok {
			if err := c.Coverage(ctx, chainID, account, signer, covered, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// Verdict records v in every sink.
func (a Audits) Verdict(ctx context.Context, v events.Verdict) error {
	for _, s := range a {
		if err := s.Verdict(ctx, v); err != nil {
			return err
		}
	}
	return nil
}

// Action records r in every sink.
func (a Audits) Action(ctx context.Context, r events.ActionRecord) error {
	for _, s := range a {
		if err := s.Action(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// NATSAudit publishes audit records on keywarden.<chain>.audit.verdict|action (JetStream, with
// message ids so a replay is deduplicated).
type NATSAudit struct{ JS jetstream.JetStream }

var _ Audit = NATSAudit{}

func (n NATSAudit) publish(ctx context.Context, subj, id string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode audit record: %w", err)
	}
	msg := &nats.Msg{Subject: subj, Data: body, Header: nats.Header{}}
	if _, err := n.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("publish audit record on %s: %w", subj, err)
	}
	return nil
}

// Verdict publishes v.
func (n NATSAudit) Verdict(ctx context.Context, v events.Verdict) error {
	return n.publish(ctx, events.AuditSubject(v.ChainID, "verdict"), "verdict:"+v.ActionID(), v)
}

// Action publishes r.
func (n NATSAudit) Action(ctx context.Context, r events.ActionRecord) error {
	return n.publish(ctx, events.AuditSubject(r.ChainID, "action"), "action:"+r.ActionID+":"+string(r.Outcome)+":"+
		strconv.Itoa(r.Attempt), r)
}

// ClickHouseAudit writes audit rows to the verdicts and actions tables (schema/ migrations).
type ClickHouseAudit struct {
	Conn     driver.Conn
	Database string
}

var _ Audit = ClickHouseAudit{}

func (c ClickHouseAudit) table(name string) string {
	if c.Database == "" {
		return name
	}
	return c.Database + "." + name
}

// Verdict inserts one verdict row.
func (c ClickHouseAudit) Verdict(ctx context.Context, v events.Verdict) error {
	restrict, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b, err := c.Conn.PrepareBatch(ctx, "INSERT INTO "+c.table("verdicts")+
		" (action_id, policy_id, severity, action, reason, chain_id, plugin, account, session_key, trigger, evaluated_at, body)")
	if err != nil {
		return fmt.Errorf("insert verdict: %w", err)
	}
	if err := b.Append(v.ActionID(), v.PolicyID, string(v.Severity), string(v.Action), v.Reason, v.ChainID, v.Plugin.Hex(),
		v.Account.Hex(), v.SessionKey.Hex(), v.Trigger, v.EvaluatedAt.UTC(), string(restrict)); err != nil {
		return errors.Join(fmt.Errorf("insert verdict: %w", err), b.Abort())
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert verdict: %w", err)
	}
	return nil
}

// Action inserts one action-outcome row; the latest row per action id (by version) is the
// action's current outcome.
func (c ClickHouseAudit) Action(ctx context.Context, r events.ActionRecord) error {
	b, err := c.Conn.PrepareBatch(ctx, "INSERT INTO "+c.table("actions")+
		" (action_id, policy_id, action, outcome, chain_id, account, session_key, trigger, new_session_key, user_op_hash,"+
		" tx_hash, attempt, error, at, version)")
	if err != nil {
		return fmt.Errorf("insert action: %w", err)
	}
	if err := b.Append(r.ActionID, r.PolicyID, string(r.Action), string(r.Outcome), r.ChainID, r.Account.Hex(),
		r.SessionKey.Hex(), r.Trigger, r.NewSessionKey.Hex(), r.UserOpHash, r.TxHash, uint32(r.Attempt), r.Error,
		r.At.UTC(), uint64(time.Now().UnixNano())); err != nil {
		return errors.Join(fmt.Errorf("insert action: %w", err), b.Abort())
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert action: %w", err)
	}
	return nil
}

// Coverage writes one coverage row.
func (c ClickHouseAudit) Coverage(ctx context.Context, chainID uint64, account, signer events.Address, covered bool, at time.Time) error {
	b, err := c.Conn.PrepareBatch(ctx, "INSERT INTO "+c.table("coverage")+" (chain_id, account, signer, covered, checked_at, version)")
	if err != nil {
		return fmt.Errorf("insert coverage: %w", err)
	}
	var cov uint8
	if covered {
		cov = 1
	}
	if err := b.Append(chainID, account.Hex(), signer.Hex(), cov, at.UTC(), uint64(time.Now().UnixNano())); err != nil {
		return errors.Join(fmt.Errorf("insert coverage: %w", err), b.Abort())
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert coverage: %w", err)
	}
	return nil
}
