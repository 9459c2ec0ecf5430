package bundles

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/open-policy-agent/opa/v1/logging"
)

// OPALogger lets OPA's bundle downloader and decision-log uploader log
// through hclog (snake_case keys, our levels). OPA's REST client masks
// Authorization headers itself; nothing here logs request bodies.
type OPALogger struct {
	log    hclog.Logger
	fields []any
}

var _ logging.Logger = (*OPALogger)(nil)

// NewOPALogger logs through log.
func NewOPALogger(log hclog.Logger) *OPALogger { return &OPALogger{log: log} }

func (l *OPALogger) Debug(f string, a ...any) { l.log.Debug(fmt.Sprintf(f, a...), l.fields...) }
func (l *OPALogger) Info(f string, a ...any)  { l.log.Info(fmt.Sprintf(f, a...), l.fields...) }
func (l *OPALogger) Warn(f string, a ...any)  { l.log.Warn(fmt.Sprintf(f, a...), l.fields...) }
func (l *OPALogger) Error(f string, a ...any) { l.log.Error(fmt.Sprintf(f, a...), l.fields...) }

func (l *OPALogger) WithFields(m map[string]any) logging.Logger {
	fields := append([]any(nil), l.fields...)
	for k, v := range m {
		fields = append(fields, k, v)
	}
	return &OPALogger{log: l.log, fields: fields}
}

func (l *OPALogger) GetLevel() logging.Level {
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
func (l *OPALogger) SetLevel(logging.Level) {}
