package pgwire

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func authConfig() Config {
	cfg := DefaultConfig()
	cfg.Users = []User{
		{Name: "scram", Password: "s3cret-ü", Method: AuthSCRAM},
		{Name: "md5", Password: "md5pw", Method: AuthMD5},
		{Name: "clear", Password: "clearpw", Method: AuthPassword},
		{Name: "trusted", Method: AuthTrust},
	}
	return cfg
}

func TestAuth(t *testing.T) {
	cfg := authConfig()
	cfg.TrustLoopback = false
	ts := startServer(t, cfg)
	tests := []struct {
		user, password, wantCode string
	}{
		{"scram", "s3cret-ü", ""},
		{"scram", "wrong", "28P01"},
		{"md5", "md5pw", ""},
		{"md5", "wrong", "28P01"},
		{"clear", "clearpw", ""},
		{"clear", "", "28P01"},
		{"trusted", "anything", ""},
		{"stranger", "x", "28000"}, // unlisted, and loopback is not trusted here
	}
	for _, tt := range tests {
		t.Run(tt.user+"/"+tt.password, func(t *testing.T) {
			conn, err := pgx.Connect(testCtx(t), ts.connString(tt.user, tt.password))
			if tt.wantCode != "" {
				if pgCode(err) != tt.wantCode {
					t.Fatalf("err = %v, want SQLSTATE %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(testCtx(t))
			var n int32
			if err := conn.QueryRow(testCtx(t), "select 1").Scan(&n); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestTrustLoopbackDefault(t *testing.T) {
	ts := startServer(t, authConfig())
	// Unlisted users are trusted on loopback; listed ones still need their
	// password.
	if conn, err := pgx.Connect(testCtx(t), ts.connString("anyone", "")); err != nil {
		t.Fatal(err)
	} else {
		conn.Close(testCtx(t))
	}
	if _, err := pgx.Connect(testCtx(t), ts.connString("scram", "nope")); pgCode(err) != "28P01" {
		t.Fatalf("err = %v, want 28P01", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []func(*Config){
		func(c *Config) { c.MaxMessageSize = 10 },
		func(c *Config) { c.ListenAddr = "nohostport" },
		func(c *Config) { c.SCRAMIterations = 0 },
		func(c *Config) { c.MaxConnections = -1 },
		func(c *Config) { c.Users = []User{{Name: "a", Method: "kerberos"}} },
		func(c *Config) { c.Users = []User{{Name: "a", Method: AuthMD5}} },
		func(c *Config) { c.Users = []User{{Name: "", Method: AuthTrust}} },
		func(c *Config) { c.Users = []User{{Name: "a", Method: AuthTrust}, {Name: "a", Method: AuthTrust}} },
	}
	for i, mutate := range bad {
		cfg := DefaultConfig()
		mutate(&cfg)
		if err := cfg.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("case %d: err = %v, want ErrInvalidConfig", i, err)
		}
	}
}

// psql drives the server with the real libpq client.
func psql(t *testing.T, ts *testServer, user, password, stdin string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("psql")
	if err != nil {
		t.Skip("psql not installed: " + err.Error())
	}
	base := []string{"-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", strconv.Itoa(ts.addr.Port), "-U", user, "-d", "db"}
	cmd := exec.CommandContext(testCtx(t), path, append(base, args...)...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=5", "PGSSLMODE=prefer", "PGAPPNAME=psql-test")
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestPsql(t *testing.T) {
	ts := startServer(t, authConfig())
	if got := psql(t, ts, "alice", "", "", "-c", "select 1"); got != "1\n" {
		t.Fatalf("select 1 = %q", got)
	}
	psql(t, ts, "alice", "", "1\tone\n2\ttwo\n\\.\n", "-c", "copy kv from stdin")
	got := psql(t, ts, "scram", "s3cret-ü", "",
		"-c", "insert into kv values (3, 'three')", "-c", "select k, v from kv order by k", "-c", "copy kv to stdout")
	want := "INSERT 0 1\n1|one\n2|two\n3|three\n1\tone\n2\ttwo\n3\tthree\n"
	if got != want {
		t.Fatalf("psql output\n got %q\nwant %q", got, want)
	}
	got = psql(t, ts, "md5", "md5pw", "", "-c", "select types")
	if !strings.HasPrefix(got, `42|1.5|t|héllo|\xdead|2024-02-29|`) {
		t.Fatalf("select types = %q", got)
	}

	// Errors reach psql with their fields, and a failed command fails psql.
	cmd := exec.Command("psql", "-X", "-h", "127.0.0.1", "-p", strconv.Itoa(ts.addr.Port), "-U", "alice", "-d", "db",
		"-v", "VERBOSITY=verbose", "-c", "select * from nope")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "42P01") || !strings.Contains(string(out), "create it first") {
		t.Fatalf("psql error output: %v\n%s", err, out)
	}
}
