// Package logging is the one way keywarden's commands configure zerolog: a level and a format
// (json, console, or auto: console on a terminal), a timestamp and the service name on every
// line. Secrets are the callers' concern: nothing here prints configuration.
package logging

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// Config is the log section of a command's configuration file.
type Config struct {
	// Level is trace, debug, info, warn or error (default info).
	Level string `yaml:"level"`
	// Format is json, console, or auto (the default): console on a terminal, else json.
	Format string `yaml:"format"`
}

// Validate reports every problem of c, joined.
func (c Config) Validate() error {
	var errs []error
	switch c.Level {
	case "", "trace", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q, want trace, debug, info, warn or error", c.Level))
	}
	switch c.Format {
	case "", "auto", "json", "console":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q, want auto, json or console", c.Format))
	}
	return errors.Join(errs...)
}

// New returns a logger writing to w as c says, with the service name on every line.
func New(c Config, w io.Writer, service string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(c.Level)
	if err != nil || c.Level == "" {
		lvl = zerolog.InfoLevel
	}
	console := c.Format == "console"
	if c.Format == "" || c.Format == "auto" {
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			console = true
		}
	}
	if console {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("service", service).Logger()
}
