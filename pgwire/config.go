package pgwire

import (
	"fmt"
	"net"
)

// AuthMethod is how a user proves its identity, named as in pg_hba.conf.
type AuthMethod string

// The supported authentication methods.
const (
	AuthTrust    AuthMethod = "trust"
	AuthPassword AuthMethod = "password" // cleartext; only over trusted networks
	AuthMD5      AuthMethod = "md5"
	AuthSCRAM    AuthMethod = "scram-sha-256"
)

// User is one role allowed to log in and how it must authenticate.
type User struct {
	Name     string
	Password string // ignored for trust
	Method   AuthMethod
}

// Config configures a Server. Start from DefaultConfig and call Validate.
type Config struct {
	// ListenAddr is the TCP address ListenAndServe binds.
	ListenAddr string

	// MaxMessageSize bounds one frontend message body in bytes. A longer
	// message is refused from its header, before anything is allocated, and
	// the connection is closed with 08P01.
	MaxMessageSize int

	// Users lists the roles that may log in and their methods. A user listed
	// here always authenticates with its method, even on loopback.
	Users []User

	// TrustLoopback lets a user that is not listed in Users log in without a
	// password when it connects over loopback or a Unix socket. Any other
	// unlisted user is refused (28000).
	TrustLoopback bool

	// TrustAll lets any unlisted user log in without a password from any
	// address. Only for isolated networks (a local docker compose cluster
	// whose ports are published on the host's loopback).
	TrustAll bool

	// SCRAMIterations is the PBKDF2 iteration count of the SCRAM-SHA-256
	// verifiers derived from the configured passwords.
	SCRAMIterations int

	// MaxConnections bounds concurrent client connections; 0 is unlimited.
	// Connections beyond it are refused with 53300.
	MaxConnections int
}

// DefaultConfig returns a configuration for a local server: PostgreSQL's
// port on loopback, 64 MiB messages, trust on loopback, no listed users.
func DefaultConfig() Config {
	return Config{
		ListenAddr:      "127.0.0.1:5432",
		MaxMessageSize:  64 << 20,
		TrustLoopback:   true,
		SCRAMIterations: 4096,
		MaxConnections:  1000,
	}
}

// Limits Validate enforces.
const (
	minMessageSize = 1 << 10
	// PostgreSQL's own limit (MaxAllocSize) on one message.
	maxMessageSize = 1<<30 - 1
)

// Validate reports the first problem with c, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	if c.ListenAddr != "" {
		if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
			return fmt.Errorf("%w: ListenAddr %q: %v", ErrInvalidConfig, c.ListenAddr, err)
		}
	}
	if c.MaxMessageSize < minMessageSize || c.MaxMessageSize > maxMessageSize {
		return fmt.Errorf("%w: MaxMessageSize %d must be between %d and %d",
			ErrInvalidConfig, c.MaxMessageSize, minMessageSize, maxMessageSize)
	}
	if c.SCRAMIterations < 1 {
		return fmt.Errorf("%w: SCRAMIterations %d must be positive", ErrInvalidConfig, c.SCRAMIterations)
	}
	if c.MaxConnections < 0 {
		return fmt.Errorf("%w: MaxConnections %d must not be negative", ErrInvalidConfig, c.MaxConnections)
	}
	seen := make(map[string]bool, len(c.Users))
	for i, u := range c.Users {
		if u.Name == "" {
			return fmt.Errorf("%w: Users[%d] has no name", ErrInvalidConfig, i)
		}
		if seen[u.Name] {
			return fmt.Errorf("%w: user %q is listed twice", ErrInvalidConfig, u.Name)
		}
		seen[u.Name] = true
		switch u.Method {
		case AuthTrust:
		case AuthPassword, AuthMD5, AuthSCRAM:
			if u.Password == "" {
				return fmt.Errorf("%w: user %q: method %s needs a password", ErrInvalidConfig, u.Name, u.Method)
			}
		default:
			return fmt.Errorf("%w: user %q: unknown auth method %q (want trust, password, md5 or scram-sha-256)",
				ErrInvalidConfig, u.Name, u.Method)
		}
	}
	return nil
}

func (c Config) user(name string) (User, bool) {
	for _, u := range c.Users {
		if u.Name == name {
			return u, true
		}
	}
	return User{}, false
}
