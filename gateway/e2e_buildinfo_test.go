package gateway_test

import (
	"regexp"
	"runtime"
	"testing"

	"github.com/gatehouse/gatehouse/gateway/buildinfo"
)

// The admin /metrics names the running build, with the same facts as
// `gatehouse version`, so a rollout can be followed replica by replica.
func TestBuildInfoMetric(t *testing.T) {
	e := coreEnv(t)
	b := buildinfo.Get()
	want := regexp.MustCompile(`(?m)^gatehouse_build_info\{commit="` + regexp.QuoteMeta(b.Commit) +
		`",date="` + regexp.QuoteMeta(b.Date) + `",go_version="` + regexp.QuoteMeta(runtime.Version()) +
		`",opa_version="` + regexp.QuoteMeta(b.OPA) + `",version="` + regexp.QuoteMeta(b.Version) + `"\} 1$`)
	if m := get(t, e.admin+"/metrics"); !want.MatchString(m) {
		t.Errorf("/metrics has no %s line", want)
	}
}
