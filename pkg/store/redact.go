package store

import (
	"encoding/json"
	"fmt"
	"time"
)

const redacted = "[redacted]"

// redactedOptions is what Options show of themselves: everything but the password's value.
type redactedOptions struct {
	Addrs          []string      `json:"addrs"`
	Database       string        `json:"database"`
	CreateDatabase bool          `json:"create_database"`
	Username       string        `json:"username"`
	Password       string        `json:"password,omitempty"`
	TLS            bool          `json:"tls"`
	DialTimeout    time.Duration `json:"dial_timeout"`
	ReadTimeout    time.Duration `json:"read_timeout"`
	MaxOpenConns   int           `json:"max_open_conns"`
}

func (o Options) redacted() redactedOptions {
	r := redactedOptions{Addrs: o.Addrs, Database: o.Database, CreateDatabase: o.CreateDatabase, Username: o.Username,
		TLS: o.TLS != nil, DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, MaxOpenConns: o.MaxOpenConns}
	if o.Password != "" {
		r.Password = redacted
	}
	return r
}

// String shows the options without the password, so %v and %+v never print it.
func (o Options) String() string { return fmt.Sprintf("%+v", o.redacted()) }

// GoString is String, for %#v.
func (o Options) GoString() string { return o.String() }

// MarshalJSON writes the options without the password (for structured logs).
func (o Options) MarshalJSON() ([]byte, error) { return json.Marshal(o.redacted()) }
