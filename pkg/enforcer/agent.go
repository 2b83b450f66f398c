package enforcer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/keywarden/keywarden/pkg/events"
)

// AgentSubject is where the agent of a key is asked for a new key: per tag when the key has
// one (the tag is how an application finds "its" key), else per account.
//
//	keywarden.agent.<chain>.tag.<tag hex without 0x>
//	keywarden.agent.<chain>.account.<account checksummed>
func AgentSubject(chainID uint64, tag [32]byte, account events.Address) string {
	prefix := "keywarden.agent." + strconv.FormatUint(chainID, 10)
	if tag != ([32]byte{}) {
		return prefix + ".tag." + fmt.Sprintf("%x", tag[:])
	}
	return prefix + ".account." + account.Hex()
}

// AgentReply is what an agent answers: the new key's address, or an error text.
type AgentReply struct {
	NewSessionKey events.Address `json:"new_session_key"`
	Error         string         `json:"error,omitempty"`
}

// NATSAgent asks key agents over NATS request-reply.
type NATSAgent struct{ NC *nats.Conn }

var _ KeyAgent = NATSAgent{}

// NewKey sends the request to the key's agent subject and waits for the reply (bounded by ctx).
func (a NATSAgent) NewKey(ctx context.Context, req RotationRequest) (events.Address, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return events.Address{}, fmt.Errorf("encode rotation request: %w", err)
	}
	subj := AgentSubject(req.ChainID, req.Tag, req.Account)
	msg, err := a.NC.RequestWithContext(ctx, subj, body)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return events.Address{}, fmt.Errorf("ask agent on %s: no agent listening: %w", subj, err)
		}
		return events.Address{}, fmt.Errorf("ask agent on %s: %w", subj, err)
	}
	var rep AgentReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return events.Address{}, fmt.Errorf("decode agent reply on %s: %w", subj, err)
	}
	if rep.Error != "" {
		return events.Address{}, fmt.Errorf("agent on %s refused: %s", subj, rep.Error)
	}
	return rep.NewSessionKey, nil
}

// ServeAgent answers rotation requests on subject (wildcards allowed) with newKey; it is what
// an application embeds to supply its own keys. Close the returned subscription to stop.
func ServeAgent(nc *nats.Conn, subject string, newKey func(RotationRequest) (events.Address, error)) (*nats.Subscription, error) {
	if !strings.HasPrefix(subject, "keywarden.agent.") {
		return nil, fmt.Errorf("serve agent: subject %q must start with keywarden.agent", subject)
	}
	return nc.Subscribe(subject, func(m *nats.Msg) {
		var req RotationRequest
		rep := AgentReply{}
		if err := json.Unmarshal(m.Data, &req); err != nil {
			rep.Error = "bad request: " + err.Error()
		} else if k, err := newKey(req); err != nil {
			rep.Error = err.Error()
		} else {
			rep.NewSessionKey = k
		}
		b, _ := json.Marshal(rep)
		_ = m.Respond(b)
	})
}
