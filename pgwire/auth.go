package pgwire

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"
)

const scramMechanism = "SCRAM-SHA-256"

// scramCredentials derives the verifier PostgreSQL would store for password.
// SASLprep is applied when the password allows it, as PostgreSQL does.
func scramCredentials(user, password string, iters int) (scram.StoredCredentials, error) {
	client, err := scram.SHA256.NewClient(user, password, "")
	if err != nil {
		client, err = scram.SHA256.NewClientUnprepped(user, password, "")
		if err != nil {
			return scram.StoredCredentials{}, err
		}
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return scram.StoredCredentials{}, err
	}
	return client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: iters})
}

// authenticate runs the authentication exchange for c.info.User and sends
// AuthenticationOk on success. Failures are fatal (the connection closes).
func (c *conn) authenticate() error {
	user := c.info.User
	u, listed := c.srv.cfg.user(user)
	if !listed {
		if c.srv.cfg.TrustAll || (c.srv.cfg.TrustLoopback && isLoopback(c.nc.RemoteAddr())) {
			u = User{Name: user, Method: AuthTrust}
		} else {
			return &fatal{err: newError(codeInvalidAuthSpec, ErrAuthFailed,
				"no authentication rule for host %q, user %q", hostOf(c.nc.RemoteAddr()), user)}
		}
	}
	var err error
	switch u.Method {
	case AuthTrust:
	case AuthPassword:
		err = c.authCleartext(u)
	case AuthMD5:
		err = c.authMD5(u)
	case AuthSCRAM:
		err = c.authSCRAM(u)
	default:
		err = fmt.Errorf("%w: unknown method %q", ErrAuthFailed, u.Method)
	}
	if err != nil {
		c.logger.Info("pgwire: authentication failed", "method", u.Method, "err", err)
		if isFatal(err) {
			return err
		}
		// The reason stays in the server log; the client learns only that
		// the password was wrong, as with PostgreSQL.
		return &fatal{err: newError(codeInvalidPassword, ErrAuthFailed,
			"password authentication failed for user %q", user)}
	}
	_ = c.be.SetAuthType(pgproto3.AuthTypeOk)
	c.send(&pgproto3.AuthenticationOk{})
	return nil
}

// receiveAuth sends an authentication request, then reads the client's
// answer, decoded as the kind of 'p' message authType announces.
func (c *conn) receiveAuth(req pgproto3.BackendMessage, authType uint32) (pgproto3.FrontendMessage, error) {
	c.send(req)
	if err := c.flush(); err != nil {
		return nil, err
	}
	if err := c.be.SetAuthType(authType); err != nil {
		return nil, err
	}
	msg, err := c.be.Receive()
	if err != nil {
		return nil, c.receiveError(err)
	}
	return msg, nil
}

func (c *conn) receivePassword(req pgproto3.BackendMessage, authType uint32) (string, error) {
	msg, err := c.receiveAuth(req, authType)
	if err != nil {
		return "", err
	}
	pm, ok := msg.(*pgproto3.PasswordMessage)
	if !ok {
		return "", protocolErrorf("expected password response, got %T", msg)
	}
	return pm.Password, nil
}

func (c *conn) authCleartext(u User) error {
	pw, err := c.receivePassword(&pgproto3.AuthenticationCleartextPassword{}, pgproto3.AuthTypeCleartextPassword)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(pw), []byte(u.Password)) != 1 {
		return fmt.Errorf("%w: wrong password", ErrAuthFailed)
	}
	return nil
}

func (c *conn) authMD5(u User) error {
	var salt [4]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return err
	}
	pw, err := c.receivePassword(&pgproto3.AuthenticationMD5Password{Salt: salt}, pgproto3.AuthTypeMD5Password)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(pw), []byte(md5Response(u.Name, u.Password, salt))) != 1 {
		return fmt.Errorf("%w: wrong md5 response", ErrAuthFailed)
	}
	return nil
}

// md5Response is what a client answers to AuthenticationMD5Password:
// "md5" + md5hex(md5hex(password + user) + salt).
func md5Response(user, password string, salt [4]byte) string {
	inner := md5.Sum([]byte(password + user))
	h := md5.New()
	h.Write([]byte(hex.EncodeToString(inner[:])))
	h.Write(salt[:])
	return "md5" + hex.EncodeToString(h.Sum(nil))
}

func (c *conn) authSCRAM(u User) error {
	creds, ok := c.srv.scramCreds[u.Name]
	if !ok {
		return fmt.Errorf("%w: no SCRAM verifier", ErrAuthFailed)
	}
	// The user name inside the SCRAM message is ignored (libpq sends an
	// empty one); the startup packet's user is authoritative.
	server, err := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) { return creds, nil })
	if err != nil {
		return err
	}
	conv := server.NewConversation()

	msg, err := c.receiveAuth(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{scramMechanism}}, pgproto3.AuthTypeSASL)
	if err != nil {
		return err
	}
	first, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok {
		return protocolErrorf("expected SASL initial response, got %T", msg)
	}
	if first.AuthMechanism != scramMechanism {
		return protocolErrorf("client selected an invalid SASL authentication mechanism %q", first.AuthMechanism)
	}
	serverFirst, err := conv.Step(string(first.Data))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAuthFailed, err)
	}

	msg, err = c.receiveAuth(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)}, pgproto3.AuthTypeSASLContinue)
	if err != nil {
		return err
	}
	final, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return protocolErrorf("expected SASL response, got %T", msg)
	}
	serverFinal, err := conv.Step(string(final.Data))
	if err != nil || !conv.Valid() {
		return fmt.Errorf("%w: %v", ErrAuthFailed, err)
	}
	c.send(&pgproto3.AuthenticationSASLFinal{Data: []byte(serverFinal)})
	return nil
}

func isLoopback(a net.Addr) bool {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	return false
}

func hostOf(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	return a.String()
}
