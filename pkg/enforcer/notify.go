package enforcer

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// SignatureHeader carries "sha256=<hex>" of HMAC-SHA256(secret, timestamp + "." + body).
const (
	SignatureHeader = "X-Keywarden-Signature"
	TimestampHeader = "X-Keywarden-Timestamp"
)

// Webhook posts notifications as JSON, signed with an HMAC so receivers can verify them.
type Webhook struct {
	URL    string
	secret []byte
	Client *http.Client
	// Attempts and Backoff bound the retries of one notification (default 3, 500ms doubling).
	Attempts int
	Backoff  time.Duration
}

var _ Notifier = (*Webhook)(nil)

// NewWebhook returns a webhook notifier; the secret is kept out of every printed form.
func NewWebhook(url string, secret []byte) *Webhook {
	return &Webhook{URL: url, secret: append([]byte(nil), secret...), Client: &http.Client{Timeout: 10 * time.Second},
		Attempts: 3, Backoff: 500 * time.Millisecond}
}

// String hides the secret.
func (w *Webhook) String() string { return fmt.Sprintf("Webhook{URL: %q, secret: [redacted]}", w.URL) }

// Sign returns the signature header value of body at timestamp ts.
func Sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header in constant time.
func Verify(secret []byte, ts string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(sig))
}

// Notify posts n, retrying on network errors and 5xx answers.
func (w *Webhook) Notify(ctx context.Context, n Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode notification: %w", err)
	}
	delay := w.Backoff
	var last error
	for attempt := 0; attempt < w.Attempts; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(delay):
			}
			delay *= 2
		}
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("post notification: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(TimestampHeader, ts)
		req.Header.Set(SignatureHeader, Sign(w.secret, ts, body))
		resp, err := w.Client.Do(req)
		if err != nil {
			last = fmt.Errorf("post notification: %w", err)
			continue
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			last = fmt.Errorf("post notification: %s", resp.Status)
			continue
		}
		if resp.StatusCode >= 300 {
			return fmt.Errorf("post notification: %s", resp.Status)
		}
		return nil
	}
	return last
}
