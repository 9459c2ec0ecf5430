package kubernetes

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/gatehouse/gatehouse/authn/authntest"
	"github.com/gatehouse/gatehouse/gateway"
	"github.com/gatehouse/gatehouse/gateway/config"
)

// kustomizations are every directory users apply with `kubectl apply -k`.
var kustomizations = []string{"base", "overlays/fleet"}

// userSecrets are the Secrets the README tells users to create; the
// manifests may reference no other Secret.
var userSecrets = []string{"gatehouse-tls", "gatehouse-keys", "gatehouse-redis"}

// userConfigMaps are created by users too (the bundle server's bundles).
var userConfigMaps = []string{"gatehouse-bundles"}

// rendered is one kustomization's output, decoded into k8s.io/api types.
type rendered struct {
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	configMaps  []*corev1.ConfigMap
	pdbs        []*policyv1.PodDisruptionBudget
}

// render runs Kustomize on dir, as `kubectl apply -k dir` does, and decodes
// every object strictly: an unknown field, a wrong type or a duplicate key
// is an error, as the API server's strict field validation would report.
func render(t *testing.T, dir string) *rendered {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize %s: %v", dir, err)
	}
	out := &rendered{}
	for _, r := range m.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		gvk := r.GetApiVersion() + " " + r.GetKind()
		var target any
		switch gvk {
		case "apps/v1 Deployment":
			d := &appsv1.Deployment{}
			out.deployments, target = append(out.deployments, d), d
		case "v1 Service":
			s := &corev1.Service{}
			out.services, target = append(out.services, s), s
		case "v1 ConfigMap":
			c := &corev1.ConfigMap{}
			out.configMaps, target = append(out.configMaps, c), c
		case "policy/v1 PodDisruptionBudget":
			p := &policyv1.PodDisruptionBudget{}
			out.pdbs, target = append(out.pdbs, p), p
		case "v1 ServiceAccount":
			target = &corev1.ServiceAccount{}
		case "v1 Namespace":
			target = &corev1.Namespace{}
		default:
			t.Errorf("%s: %s %s: no schema to validate this kind against", dir, gvk, r.GetName())
			continue
		}
		if err := yaml.UnmarshalStrict(b, target); err != nil {
			t.Errorf("%s: %s %s: %v", dir, gvk, r.GetName(), err)
		}
	}
	return out
}

func TestManifests(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			r := render(t, dir)
			checkReferences(t, r)
			for _, d := range r.deployments {
				checkPodSecurity(t, d)
			}
			gw := r.deployment(t, "gatehouse")
			checkGateway(t, gw)
			cfgDir := writeGatewayFiles(t, r)
			checkDrainTiming(t, gw, filepath.Join(cfgDir, "config", "gatehouse.yaml"))
		})
	}
}

func (r *rendered) deployment(t *testing.T, name string) *appsv1.Deployment {
	for _, d := range r.deployments {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no deployment %q", name)
	return nil
}

// configMap finds a generated ConfigMap by its name without the content hash.
func (r *rendered) configMap(name string) *corev1.ConfigMap {
	for _, c := range r.configMaps {
		if c.Name == name || strings.HasPrefix(c.Name, name+"-") && len(c.Name) == len(name)+11 {
			return c
		}
	}
	return nil
}

// checkReferences: selectors select, named ports exist, and every ConfigMap
// and Secret a pod uses is rendered here or is one the README has users create.
func checkReferences(t *testing.T, r *rendered) {
	for _, d := range r.deployments {
		tpl := d.Spec.Template
		for k, v := range d.Spec.Selector.MatchLabels {
			if tpl.Labels[k] != v {
				t.Errorf("deployment %s: selector %s=%s does not match its pod labels", d.Name, k, v)
			}
		}
		volumes := map[string]bool{}
		for _, v := range tpl.Spec.Volumes {
			volumes[v.Name] = true
			switch {
			case v.ConfigMap != nil:
				if !slices.Contains(userConfigMaps, v.ConfigMap.Name) && !r.hasConfigMap(v.ConfigMap.Name) {
					t.Errorf("deployment %s: volume %s: ConfigMap %q is not rendered", d.Name, v.Name, v.ConfigMap.Name)
				}
			case v.Secret != nil:
				if !slices.Contains(userSecrets, v.Secret.SecretName) {
					t.Errorf("deployment %s: volume %s: Secret %q is not documented", d.Name, v.Name, v.Secret.SecretName)
				}
			case v.EmptyDir != nil:
			default:
				t.Errorf("deployment %s: volume %s: unexpected source", d.Name, v.Name)
			}
		}
		for _, c := range tpl.Spec.Containers {
			if c.Image == "" {
				t.Errorf("deployment %s: container %s has no image", d.Name, c.Name)
			}
			for _, m := range c.VolumeMounts {
				if !volumes[m.Name] {
					t.Errorf("deployment %s: mount of undeclared volume %s", d.Name, m.Name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && !slices.Contains(userSecrets, e.ValueFrom.SecretKeyRef.Name) {
					t.Errorf("deployment %s: env %s: Secret %q is not documented", d.Name, e.Name, e.ValueFrom.SecretKeyRef.Name)
				}
			}
			for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
				if p == nil {
					continue
				}
				port := ""
				if p.HTTPGet != nil {
					port = p.HTTPGet.Port.String()
				} else if p.TCPSocket != nil {
					port = p.TCPSocket.Port.String()
				}
				if !hasPort(c, port) {
					t.Errorf("deployment %s: probe on port %q, which the container does not name", d.Name, port)
				}
			}
		}
	}
	for _, s := range r.services {
		d := r.selected(s.Spec.Selector)
		if d == nil {
			t.Errorf("service %s selects no deployment", s.Name)
			continue
		}
		for _, p := range s.Spec.Ports {
			if !hasPort(d.Spec.Template.Spec.Containers[0], p.TargetPort.String()) {
				t.Errorf("service %s: target port %s not on deployment %s", s.Name, p.TargetPort.String(), d.Name)
			}
		}
	}
	for _, p := range r.pdbs {
		if r.selected(p.Spec.Selector.MatchLabels) == nil {
			t.Errorf("pod disruption budget %s selects no deployment", p.Name)
		}
	}
}

func (r *rendered) hasConfigMap(name string) bool {
	for _, c := range r.configMaps {
		if c.Name == name {
			return true
		}
	}
	return false
}

func (r *rendered) selected(sel map[string]string) *appsv1.Deployment {
	for _, d := range r.deployments {
		ok := len(sel) > 0
		for k, v := range sel {
			ok = ok && d.Spec.Template.Labels[k] == v
		}
		if ok {
			return d
		}
	}
	return nil
}

func hasPort(c corev1.Container, port string) bool {
	for _, p := range c.Ports {
		if p.Name == port || port == strconv.Itoa(int(p.ContainerPort)) {
			return true
		}
	}
	return false
}

// checkPodSecurity: what the "restricted" Pod Security Standard requires,
// plus a read-only root filesystem, for every pod we ship.
func checkPodSecurity(t *testing.T, d *appsv1.Deployment) {
	ps := d.Spec.Template.Spec.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("deployment %s: pod must set runAsNonRoot and seccomp RuntimeDefault", d.Name)
	}
	if ps != nil && (ps.RunAsUser == nil || *ps.RunAsUser == 0) {
		t.Errorf("deployment %s: pod must set a non-zero runAsUser", d.Name)
	}
	if a := d.Spec.Template.Spec.AutomountServiceAccountToken; a == nil || *a {
		t.Errorf("deployment %s: mounts a service account token it does not use", d.Name)
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("deployment %s: container %s has no securityContext", d.Name, c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("deployment %s: container %s allows privilege escalation", d.Name, c.Name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("deployment %s: container %s has a writable root filesystem", d.Name, c.Name)
		case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
			t.Errorf("deployment %s: container %s must drop ALL capabilities and add none", d.Name, c.Name)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("deployment %s: container %s needs cpu and memory requests and a memory limit", d.Name, c.Name)
		}
	}
}

// checkGateway: the rules the gateway's own Deployment follows.
func checkGateway(t *testing.T, d *appsv1.Deployment) {
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas: %v, want 3", d.Spec.Replicas)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("a rollout must never go below the replica count (maxUnavailable 0)")
	}
	c := d.Spec.Template.Spec.Containers[0]
	probes := []struct {
		name string
		p    *corev1.Probe
		path string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}, {"startup", c.StartupProbe, "/readyz"}}
	for _, p := range probes {
		if p.p == nil || p.p.HTTPGet == nil || p.p.HTTPGet.Path != p.path || p.p.HTTPGet.Port.String() != "admin" {
			t.Errorf("%s probe: want GET %s on the admin port", p.name, p.path)
		}
	}
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds < 5 {
		t.Errorf("preStop: want a sleep of at least 5 s so endpoints drop the pod before it drains")
	}
}

// checkDrainTiming: preStop sleep + the gateway's own drain (drain_delay,
// then shutdown_timeout) fit in the termination grace period, or the
// kubelet kills requests mid-drain.
func checkDrainTiming(t *testing.T, d *appsv1.Deployment, cfgPath string) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	c := d.Spec.Template.Spec.Containers[0]
	grace := *d.Spec.Template.Spec.TerminationGracePeriodSeconds
	need := c.Lifecycle.PreStop.Sleep.Seconds + int64(cfg.Listen.DrainDelay.D().Seconds()) + int64(cfg.Listen.ShutdownTimeout.D().Seconds())
	if need >= grace {
		t.Errorf("preStop %d s + drain_delay %s + shutdown_timeout %s >= terminationGracePeriodSeconds %d",
			c.Lifecycle.PreStop.Sleep.Seconds, cfg.Listen.DrainDelay.D(), cfg.Listen.ShutdownTimeout.D(), grace)
	}
}

// writeGatewayFiles lays the rendered ConfigMaps out as the pod sees them
// (/etc/gatehouse/{config,bundle}), with generated stand-ins for the
// Secrets' files, and builds the gateway from them as `gatehouse check`
// does: the config, the OpenAPI document and the bundle must all load.
func writeGatewayFiles(t *testing.T, r *rendered) string {
	root := t.TempDir()
	for dir, name := range map[string]string{"config": "gatehouse-config", "bundle": "gatehouse-bundle"} {
		cm := r.configMap(name)
		if cm == nil {
			t.Fatalf("no ConfigMap %s", name)
		}
		for k, v := range cm.Data {
			write(t, filepath.Join(root, dir, k), []byte(v))
		}
	}
	ca := authntest.Must(authntest.NewCA())
	srv := authntest.Must(ca.Server("gatehouse.gatehouse.svc"))
	write(t, filepath.Join(root, "tls", "tls.crt"), srv.CertPEM())
	write(t, filepath.Join(root, "tls", "tls.key"), authntest.Must(srv.KeyPEM()))
	for _, name := range []string{"apikeys-key.pem", "assertion-key.pem"} {
		k := authntest.Must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
		write(t, filepath.Join(root, "keys", name), authntest.Must(authntest.PrivateKeyPEM(k)))
	}
	issuer := authntest.Must(authntest.NewSigner("ES256"))
	write(t, filepath.Join(root, "keys", "issuer-jwks.json"), authntest.Must(authntest.JWKS(issuer)))
	write(t, filepath.Join(root, "keys", "users.htpasswd"), authntest.Must(authntest.Htpasswd(map[string]string{"alice": "s3cret-pass"}, 4)))
	t.Setenv("REDIS_PASSWORD", "test-only")

	cfg, err := config.Load(filepath.Join(root, "config", "gatehouse.yaml"))
	if err != nil {
		t.Fatalf("config in the ConfigMap: %v", err)
	}
	g, err := gateway.BuildGeneration(context.Background(), cfg, gateway.BuildOptions{})
	if err != nil {
		t.Fatalf("the ConfigMaps do not build a gateway: %v", err)
	}
	_ = g.Close()
	return root
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// The base serves the quickstart's API and bundle; its copies (Kustomize
// reads no file outside its directory) must not drift from the originals.
func TestQuickstartCopies(t *testing.T) {
	for copyPath, orig := range map[string]string{
		"base/config/petstore.yaml": "../../examples/quickstart/petstore.yaml",
		"base/bundle/.manifest":     "../../examples/quickstart/bundle/.manifest",
		"base/bundle/data.json":     "../../examples/quickstart/bundle/data.json",
	} {
		a, errA := os.ReadFile(copyPath)
		b, errB := os.ReadFile(orig)
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s (%v, %v): copy it again", copyPath, orig, errA, errB)
		}
	}
}
