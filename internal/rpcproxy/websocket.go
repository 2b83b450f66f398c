package rpcproxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// WebSocketMethod is the name under which WebSocket upgrades are counted.
const WebSocketMethod = "(websocket)"

func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

type tunnel struct {
	client, upstream net.Conn
	once             sync.Once
}

func (t *tunnel) close() {
	t.once.Do(func() {
		_ = t.client.Close()
		_ = t.upstream.Close()
	})
}

// DropWebSockets cuts every open WebSocket tunnel, as a provider restarting its gateway does.
// New connections are accepted as usual.
func (p *Proxy) DropWebSockets() {
	p.mu.Lock()
	ts := make([]*tunnel, 0, len(p.tunnels))
	for t := range p.tunnels {
		ts = append(ts, t)
	}
	p.mu.Unlock()
	for _, t := range ts {
		t.close()
	}
}

// serveWebSocket tunnels an upgrade to the node byte for byte. Faults that name no method apply
// to the upgrade itself (an HTTP fault refuses it, a hang holds it); the calls inside the
// tunnel are neither faulted nor counted.
func (p *Proxy) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.httpReq++
	p.counts[WebSocketMethod]++
	p.total++
	p.mu.Unlock()
	for {
		p.mu.Lock()
		f, changed := p.faults.clone(), p.changed
		p.mu.Unlock()
		if f.Hang == nil || len(f.Hang.Methods) > 0 {
			if f.HTTP != nil && len(f.HTTP.Methods) == 0 {
				p.writeHTTPFault(w, f.HTTP, nil)
				return
			}
			break
		}
		select {
		case <-r.Context().Done():
			return
		case <-p.closing:
			return
		case <-changed:
		}
	}
	u, err := url.Parse(p.upstream)
	if err != nil {
		http.Error(w, "bad upstream", http.StatusBadGateway)
		return
	}
	up, err := net.Dial("tcp", u.Host)
	if err != nil {
		http.Error(w, "upstream unreachable", http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		_ = up.Close()
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		_ = up.Close()
		return
	}
	r.Host = u.Host
	if err := r.Write(up); err != nil {
		_ = up.Close()
		_ = conn.Close()
		return
	}
	t := &tunnel{client: conn, upstream: up}
	p.mu.Lock()
	if p.tunnels == nil {
		p.tunnels = map[*tunnel]struct{}{}
	}
	p.tunnels[t] = struct{}{}
	p.mu.Unlock()
	go func() {
		defer func() {
			t.close()
			p.mu.Lock()
			delete(p.tunnels, t)
			p.mu.Unlock()
		}()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = io.Copy(up, bufio.NewReader(io.MultiReader(buf.Reader, conn)))
			t.close()
		}()
		_, _ = io.Copy(conn, up)
		t.close()
		<-done
	}()
}
