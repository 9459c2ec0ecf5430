// Package container holds the Gatehouse container image definition
// (Dockerfile, with the passwd and group files of its unprivileged user)
// and, in its tests, builds the image with podman from a static binary and
// runs the quickstart in it, read-only and as that user, with a request
// through it on loopback.
package container
