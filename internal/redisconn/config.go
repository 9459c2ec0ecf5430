// Package redisconn connects to the Redis that holds the gateway's shared
// state (the internal key manager's tokens, rate-limit counters) the same
// way for every user: one node, a primary found through Sentinel, or a
// Cluster (go-redis's universal client), over TLS with private roots and a
// client certificate; it routes the client library's own log lines through
// hclog, and its Conn notices an outage and reconnects as soon as Redis
// answers again.
package redisconn

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/config"
)

// Config is one Redis deployment, as the configuration file writes it.
type Config struct {
	// Mode is single, sentinel or cluster. Unset: sentinel with
	// master_name, cluster with more than one address, else single.
	Mode string `json:"mode"`
	// Address is one host:port: the node, or one seed of a cluster.
	Address string `json:"address"`
	// Addresses are the Sentinels (with master_name) or the cluster seeds.
	Addresses []string `json:"addresses"`
	// MasterName is the primary's name in Sentinel.
	MasterName string `json:"master_name"`
	// SentinelUsername/SentinelPassword authenticate to the Sentinels
	// (ACL), when they differ from the data nodes' credentials.
	SentinelUsername string        `json:"sentinel_username"`
	SentinelPassword config.Secret `json:"sentinel_password"`
	Username         string        `json:"username"`
	Password         config.Secret `json:"password"`
	// DB selects the database (single and sentinel only: a cluster has one).
	DB int `json:"db"`
	// TLS connects over TLS; CAFiles are its roots (default: the system's),
	// CertFile/KeyFile a client certificate (Redis tls-auth-clients),
	// ServerName the name verified in the server's certificate (default:
	// the host dialed).
	TLS        bool     `json:"tls"`
	CAFiles    []string `json:"ca_files"`
	CertFile   string   `json:"cert_file"`
	KeyFile    string   `json:"key_file"`
	ServerName string   `json:"tls_server_name"`
}

// Modes.
const (
	ModeSingle   = "single"
	ModeSentinel = "sentinel"
	ModeCluster  = "cluster"
)

// EffectiveMode is Mode, or the mode the addresses imply.
func (c *Config) EffectiveMode() string {
	switch {
	case c.Mode != "":
		return c.Mode
	case c.MasterName != "":
		return ModeSentinel
	case len(c.addrs()) > 1:
		return ModeCluster
	}
	return ModeSingle
}

// addrs is Address followed by Addresses.
func (c *Config) addrs() []string {
	var out []string
	if c.Address != "" {
		out = append(out, c.Address)
	}
	return append(out, c.Addresses...)
}

// Set reports whether any connection setting is present (for sections
// where Redis is optional).
func (c *Config) Set() bool {
	return c.Mode != "" || c.Address != "" || len(c.Addresses) > 0 || c.MasterName != "" ||
		c.SentinelUsername != "" || c.SentinelPassword != "" || c.Username != "" || c.Password != "" ||
		c.DB != 0 || c.TLS || len(c.CAFiles) > 0 || c.CertFile != "" || c.KeyFile != "" || c.ServerName != ""
}

// Check reports problems of the section at JSON pointer ptr.
func (c *Config) Check(ptr string, add func(ptr, format string, args ...any)) {
	mode := c.EffectiveMode()
	addrs := c.addrs()
	switch mode {
	case ModeSingle:
		if len(addrs) != 1 {
			add(ptr+"/address", "a single Redis needs exactly one address (host:port); several addresses are a cluster (mode: cluster) or Sentinels (master_name)")
		}
	case ModeSentinel:
		if c.MasterName == "" {
			add(ptr+"/master_name", "mode sentinel needs master_name: the primary's name in Sentinel")
		}
		if len(addrs) == 0 {
			add(ptr+"/addresses", "mode sentinel needs the Sentinels' addresses")
		}
	case ModeCluster:
		if len(addrs) == 0 {
			add(ptr+"/addresses", "mode cluster needs at least one seed address")
		}
		if c.DB != 0 {
			add(ptr+"/db", "a Redis Cluster has only database 0")
		}
	default:
		add(ptr+"/mode", "mode must be single, sentinel or cluster, not %q", c.Mode)
	}
	if c.MasterName != "" && mode != ModeSentinel {
		add(ptr+"/master_name", "master_name only applies to mode: sentinel")
	}
	if (c.SentinelUsername != "" || c.SentinelPassword != "") && mode != ModeSentinel {
		add(ptr+"/sentinel_password", "sentinel_username and sentinel_password only apply to mode: sentinel")
	}
	if c.Address != "" && !hostPort(c.Address) {
		add(ptr+"/address", "%q is not host:port", c.Address)
	}
	for i, a := range c.Addresses {
		if !hostPort(a) {
			add(ptr+"/addresses/"+strconv.Itoa(i), "%q is not host:port", a)
		}
	}
	if !c.TLS && (len(c.CAFiles) > 0 || c.CertFile != "" || c.KeyFile != "" || c.ServerName != "") {
		add(ptr+"/tls", "ca_files, cert_file, key_file and tls_server_name need tls: true")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		add(ptr+"/cert_file", "a client certificate needs both cert_file and key_file")
	}
}

func hostPort(a string) bool {
	host, port, err := net.SplitHostPort(a)
	n, perr := strconv.Atoi(port)
	return err == nil && host != "" && perr == nil && n > 0 && n < 65536
}

// Key identifies the connection settings, for holders that share one
// client among configuration generations. Secrets are named by their
// reference, never their value: a changed password behind the same
// reference needs a restart.
func (c *Config) Key() string {
	return strings.Join([]string{c.EffectiveMode(), strings.Join(c.addrs(), ","), c.MasterName,
		c.SentinelUsername, string(c.SentinelPassword), c.Username, string(c.Password), strconv.Itoa(c.DB),
		strconv.FormatBool(c.TLS), strings.Join(c.CAFiles, ","), c.CertFile, c.KeyFile, c.ServerName}, "|")
}

// Options builds the universal client's options: secrets resolved and
// files read relative to dir, timeout bounding dialing and each command.
func (c *Config) Options(dir string, timeout time.Duration) (*redis.UniversalOptions, error) {
	o := &redis.UniversalOptions{
		Addrs:            c.addrs(),
		MasterName:       c.MasterName,
		IsClusterMode:    c.EffectiveMode() == ModeCluster,
		Username:         c.Username,
		SentinelUsername: c.SentinelUsername,
		DB:               c.DB,
		DialTimeout:      timeout,
		ReadTimeout:      timeout,
		WriteTimeout:     timeout,
		DisableIdentity:  true,
	}
	if c.EffectiveMode() == ModeSingle && len(o.Addrs) > 1 {
		o.Addrs = o.Addrs[:1]
	}
	if c.Password != "" {
		pw, err := c.Password.Resolve(dir)
		if err != nil {
			return nil, fmt.Errorf("password: %w", err)
		}
		o.Password = pw.Reveal()
	}
	if c.SentinelPassword != "" {
		pw, err := c.SentinelPassword.Resolve(dir)
		if err != nil {
			return nil, fmt.Errorf("sentinel_password: %w", err)
		}
		o.SentinelPassword = pw.Reveal()
	}
	if c.TLS {
		t := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
		if len(c.CAFiles) > 0 {
			pool, err := config.LoadCAPool(dir, c.CAFiles)
			if err != nil {
				return nil, fmt.Errorf("ca_files: %w", err)
			}
			t.RootCAs = pool
		}
		if c.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(config.ResolvePath(dir, c.CertFile), config.ResolvePath(dir, c.KeyFile))
			if err != nil {
				return nil, fmt.Errorf("cert_file/key_file: %w", err)
			}
			t.Certificates = []tls.Certificate{cert}
		}
		o.TLSConfig = t
	}
	return o, nil
}
