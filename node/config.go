package node

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// Config is everything a node needs. It is read from config.toml, then
// HELIOSDB_* environment variables, then command-line flags, each
// overriding the one before (flags beat the file).
type Config struct {
	Server  ServerConfig  `toml:"server"`
	Cluster ClusterConfig `toml:"cluster"`
	Dump    DumpConfig    `toml:"dump"`
	Auth    AuthConfig    `toml:"auth"`
	Raft    RaftConfig    `toml:"raft"`
	// AntiEntropy: see node/antientropy.go.
	AntiEntropy AntiEntropyConfig `toml:"antientropy"`

	// stagingIdle overrides the leftover staging tables' idle limit
	// (staging_janitor.go); tests only.
	stagingIdle time.Duration
}

// ServerConfig is the single-node part.
type ServerConfig struct {
	// Listen is the host (or host:port) the PostgreSQL server binds.
	Listen string `toml:"listen"`
	Port   int    `toml:"port"`
	// DataDir holds the raft log and snapshots. Empty with Memory=false
	// means memory only as well.
	DataDir string `toml:"data_dir"`
	// Memory keeps nothing on disk: a restart starts empty.
	Memory bool `toml:"memory"`
	// NodeID identifies the node (default "node1" alone).
	NodeID   string `toml:"node_id"`
	LogLevel string `toml:"log_level"`
	// MaxConnections bounds client connections (0 = 1000).
	MaxConnections int `toml:"max_connections"`
}

// ClusterConfig: empty GossipAddr means single-node mode.
type ClusterConfig struct {
	RaftAddr        string `toml:"raft_addr"`
	RaftAdvertise   string `toml:"raft_advertise"`
	GossipAddr      string `toml:"gossip_addr"`
	GossipAdvertise string `toml:"gossip_advertise"`
	// HTTPAddr is the admin API (health, metrics, members, internal RPC).
	HTTPAddr      string `toml:"http_addr"`
	HTTPAdvertise string `toml:"http_advertise"`
	// PGAdvertise is the PostgreSQL address other nodes and tools are told.
	PGAdvertise     string   `toml:"pg_advertise"`
	Join            []string `toml:"join"`
	BootstrapExpect int      `toml:"bootstrap_expect"`
	// DeadServerGrace: a member dead this long is removed from raft.
	DeadServerGrace Duration `toml:"dead_server_grace"`
	// RPCToken authenticates internal RPCs between nodes.
	RPCToken string `toml:"rpc_token"`
}

// RaftConfig tunes snapshots.
type RaftConfig struct {
	SnapshotThreshold uint64   `toml:"snapshot_threshold"`
	SnapshotInterval  Duration `toml:"snapshot_interval"`
	TrailingLogs      uint64   `toml:"trailing_logs"`
	// SnapshotCompression: none, lz4 (default) or zstd.
	SnapshotCompression string `toml:"snapshot_compression"`
}

// DumpConfig is the guide's [dump] section.
type DumpConfig struct {
	Schedule         string `toml:"schedule"`
	WALSizeThreshold int64  `toml:"wal_size_threshold"`
	Compression      string `toml:"compression"`
	// CompressionLevel 0 means the codec's default (zstd 3, lz4 fast);
	// for lz4, levels 2-9 select the much slower LZ4-HC.
	CompressionLevel int    `toml:"compression_level"`
	BackupDir        string `toml:"backup_dir"`
	RetentionDays    int    `toml:"retention_days"`
	NotifyEmail      string `toml:"notify_email"`
	NotifyWebhook    string `toml:"notify_webhook"`
	// MaxBytesPerSec paces the file writing of background cluster dumps
	// while foreground writes flow (node/clusterdump.go): 0 means the
	// default, negative means unpaced.
	MaxBytesPerSec int64 `toml:"max_bytes_per_sec"`
}

// AuthConfig lists users. Unlisted users are trusted on loopback only,
// unless Trust is "all".
type AuthConfig struct {
	// Trust: "loopback" (default), "all", or "none".
	Trust string     `toml:"trust"`
	Users []UserAuth `toml:"users"`
}

// UserAuth is one user with a password and method.
type UserAuth struct {
	Name     string `toml:"name"`
	Password string `toml:"password"`
	// Method: scram-sha-256 (default), md5 or password.
	Method string `toml:"method"`
}

// Duration is a time.Duration written as "1s", "500ms" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q: %v", b, err)
	}
	d.Duration = v
	return nil
}

// MarshalText formats the duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// DefaultConfig is a single in-memory node on 127.0.0.1:5432.
func DefaultConfig() Config {
	return Config{
		Server: ServerConfig{Listen: "127.0.0.1", Port: 5432, NodeID: "node1", LogLevel: "info"},
		Dump:   DumpConfig{Compression: "zstd", RetentionDays: 30}, // level 0: the codec's default (zstd 3, lz4 fast)
		Auth:   AuthConfig{Trust: "loopback"},
		Cluster: ClusterConfig{
			DeadServerGrace: Duration{30 * time.Second},
		},
		Raft:        RaftConfig{SnapshotCompression: "lz4"},
		AntiEntropy: AntiEntropyConfig{ReinstallThreshold: 10000},
	}
}

// ErrConfig marks configuration errors (exit code 2 in the CLI).
var ErrConfig = errors.New("config")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
}

// LoadFile reads a TOML file over c. Unknown keys are an error naming them:
// a misspelt setting must not be silently ignored.
func (c *Config) LoadFile(path string) error {
	md, err := toml.DecodeFile(path, c)
	if err != nil {
		return configErr("%s: %v", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return configErr("%s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	return nil
}

// PGAddr is the host:port the PostgreSQL server binds.
func (c *Config) PGAddr() string {
	if _, _, err := net.SplitHostPort(c.Server.Listen); err == nil {
		return c.Server.Listen
	}
	return net.JoinHostPort(c.Server.Listen, strconv.Itoa(c.Server.Port))
}

// Clustered reports whether the node runs with gossip and peers.
func (c *Config) Clustered() bool { return c.Cluster.GossipAddr != "" }

// Validate checks the configuration with messages that say what to fix.
func (c *Config) Validate() error {
	if c.Server.Port < 0 || c.Server.Port > 65535 {
		return configErr("port %d out of range 0-65535", c.Server.Port)
	}
	if c.Server.NodeID == "" {
		return configErr("node id is empty (--node-id)")
	}
	if c.Server.Memory && c.Server.DataDir != "" {
		// The guide's DR drill passes both; memory wins, nothing is written.
		c.Server.DataDir = ""
	}
	switch c.Auth.Trust {
	case "", "loopback", "all", "none":
	default:
		return configErr("[auth] trust = %q: want loopback, all or none", c.Auth.Trust)
	}
	for _, u := range c.Auth.Users {
		switch u.Method {
		case "", "scram-sha-256", "md5", "password", "trust":
		default:
			return configErr("[auth] user %q: method %q: want scram-sha-256, md5, password or trust", u.Name, u.Method)
		}
	}
	switch c.Dump.Compression {
	case "", "none", "lz4", "zstd":
	default:
		return configErr("[dump] compression = %q: want none, lz4 or zstd", c.Dump.Compression)
	}
	if err := c.Dump.validate(); err != nil {
		return err
	}
	if c.Clustered() {
		if c.Cluster.HTTPAddr == "" {
			return configErr("cluster mode needs --http-addr (followers forward writes to the leader's admin address)")
		}
		if c.Cluster.RaftAddr == "" {
			return configErr("cluster mode needs --raft-addr")
		}
	}
	return nil
}

// validate checks what the scheduled dumps will use, so that a mistake
// stops the node at start rather than failing every dump later (or, for a
// schedule without a directory, never dumping at all).
func (d *DumpConfig) validate() error {
	// The level is checked against zstd when no codec is named: cluster
	// dumps default to it, and a level no codec takes is wrong anyway.
	codec := snapshot.CompressZstd
	if d.Compression != "" {
		codec, _ = snapshot.ParseCompression(d.Compression)
	}
	if err := (&snapshot.WriterOptions{Compression: codec, Level: d.CompressionLevel}).Validate(); err != nil {
		return configErr("[dump] compression_level = %d: %s", d.CompressionLevel, strings.TrimPrefix(err.Error(), snapshot.ErrInvalidOptions.Error()+": "))
	}
	if d.Schedule != "" {
		if _, err := parseCron(d.Schedule); err != nil {
			return configErr("[dump] schedule = %q: %v", d.Schedule, err)
		}
	}
	if d.BackupDir == "" {
		switch {
		case d.Schedule != "":
			return configErr("[dump] schedule is set but [dump] backup_dir is not: scheduled dumps are written there (backup_dir, --backup-dir or HELIOSDB_BACKUP_DIR); set it, or remove schedule")
		case d.WALSizeThreshold > 0:
			return configErr("[dump] wal_size_threshold is set but [dump] backup_dir is not: threshold dumps are written there (backup_dir, --backup-dir or HELIOSDB_BACKUP_DIR); set it, or remove wal_size_threshold")
		}
	}
	return nil
}

// ApplyEnv overrides c from HELIOSDB_* variables (the same names as the
// flags, upper-cased, dashes as underscores: HELIOSDB_DATA_DIR).
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	for _, f := range Fields(c) {
		if v, ok := lookup(f.Env); ok {
			if err := f.Set(v); err != nil {
				return configErr("%s=%q: %v", f.Env, v, err)
			}
		}
	}
	return nil
}
