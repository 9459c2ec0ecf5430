package gateway

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/open-policy-agent/opa/v1/logging"
)

// opaLogger lets OPA's bundle downloader and decision-log uploader log
// through hclog (snake_case keys, our levels). OPA's REST client masks
// Authorization headers itself; nothing here logs request bodies.
type opaLogger struct {
	log    hclog.Logger
	fields []any
}

var _ logging.Logger = (*opaLogger)(nil)

func newOPALogger(log hclog.Logger) *opaLogger { return &opaLogger{log: log} }

func (l *opaLogger) Debug(f string, a ...any) { l.log.Debug(fmt.Sprintf(f, a...), l.fields...) }
func (l *opaLogger) Info(f string, a ...any)  { l.log.Info(fmt.Sprintf(f, a...), l.fields...) }
func (l *opaLogger) Warn(f string, a ...any)  { l.log.Warn(fmt.Sprintf(f, a...), l.fields...) }
func (l *opaLogger) Error(f string, a ...any) { l.log.Error(fmt.Sprintf(f, a...), l.fields...) }

func (l *opaLogger) WithFields(m map[string]any) logging.Logger {
	fields := append([]any(nil), l.fields...)
	for k, v := range m {
		fields = append(fields, k, v)
	}
	return &opaLogger{log: l.log, fields: fields}
}

func (l *opaLogger) GetLevel() logging.Level {
	switch {
	case l.log.IsDebug() || l.log.IsTrace():
		return logging.Debug
	case l.log.IsInfo():
		return logging.Info
	case l.log.IsWarn():
		return logging.Warn
	}
	return logging.Error
}

// SetLevel is ignored: the level is the gateway's.
func (l *opaLogger) SetLevel(logging.Level) {}
