package enforcer

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go"
)

// ApprovalRequest is the body of an approve or deny request.
type ApprovalRequest struct {
	ActionID string `json:"action_id"`
	By       string `json:"by"`
}

// ApprovalHandler serves POST /actions/{id}/approve and /actions/{id}/deny, with a JSON body
// {"by": "name"}. Put it behind the operator's authentication; it holds no secret itself.
func (e *Enforcer) ApprovalHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if len(parts) != 3 || parts[0] != "actions" || (parts[2] != "approve" && parts[2] != "deny") {
			http.NotFound(w, r)
			return
		}
		var req ApprovalRequest
		_ = json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<12)).Decode(&req)
		if req.By == "" {
			http.Error(w, `body must name who decides: {"by": "..."}`, http.StatusBadRequest)
			return
		}
		err := e.decide(r.Context(), parts[1], req.By, parts[2] == "approve")
		switch {
		case errors.Is(err, ErrNotAwaiting):
			http.Error(w, err.Error(), http.StatusConflict)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

// ApprovalSubjects are the NATS subjects of approve and deny requests (request-reply; the
// reply is "ok" or an error text).
const (
	ApproveSubject = "keywarden.enforcer.approve"
	DenySubject    = "keywarden.enforcer.deny"
)

// ServeApprovals answers approve/deny requests over NATS until the subscriptions close.
func (e *Enforcer) ServeApprovals(ctx context.Context, nc *nats.Conn) ([]*nats.Subscription, error) {
	var subs []*nats.Subscription
	for subj, approve := range map[string]bool{ApproveSubject: true, DenySubject: false} {
		approve := approve
		s, err := nc.Subscribe(subj, func(m *nats.Msg) {
			var req ApprovalRequest
			if err := json.Unmarshal(m.Data, &req); err != nil || req.ActionID == "" || req.By == "" {
				_ = m.Respond([]byte(`error: want {"action_id": "...", "by": "..."}`))
				return
			}
			if err := e.decide(ctx, req.ActionID, req.By, approve); err != nil {
				_ = m.Respond([]byte("error: " + err.Error()))
				return
			}
			_ = m.Respond([]byte("ok"))
		})
		if err != nil {
			for _, s := range subs {
				_ = s.Unsubscribe()
			}
			return nil, err
		}
		subs = append(subs, s)
	}
	return subs, nil
}
