// Package kubernetes holds the Kubernetes manifests of Gatehouse (a
// Kustomize base, optional components and an overlay) and, in its tests,
// their validation without a cluster: every kustomization is rendered
// with the Kustomize library that `kubectl apply -k` uses, every object is
// decoded strictly into its k8s.io/api type (an unknown or misspelled field
// fails), the deployment's own rules are checked (probes, non-root,
// read-only root, drain timing), and the config in the ConfigMaps is built
// by the gateway exactly as `gatehouse check` would.
package kubernetes
