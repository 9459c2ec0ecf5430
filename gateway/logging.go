package gateway

import (
	"io"

	"github.com/hashicorp/go-hclog"

	"github.com/gatehouse/gatehouse/gateway/audit"
	"github.com/gatehouse/gatehouse/gateway/config"
)

// NewLogger builds the process logger from the log section: JSON by default,
// lowercase messages, snake_case keys, named sub-loggers (audit, authn.jwt,
// bundles). Secrets never reach it: authenticators log credential ids and
// authn.Redacted values only.
// logTimeFormat is the timestamp of every log line (audit.TimeFormat).
const logTimeFormat = audit.TimeFormat

func NewLogger(c config.LogConfig, w io.Writer) hclog.Logger {
	level := hclog.LevelFromString(c.Level)
	if c.Level == "off" {
		level = hclog.Off
	}
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:       "gatehouse",
		Level:      level,
		Output:     w,
		JSONFormat: c.Format != "text",
		// Logging happens from many goroutines; hclog serializes writes.
		TimeFormat: logTimeFormat,
	})
}
