package clustertests

import (
	"bytes"
	"net"
	"sync"
	"time"
)

// proxy sits in front of one node's raft port; every node advertises its
// proxy's address, so every raft connection to the node passes through
// it. hashicorp/raft's transport starts each request with an RPCHeader
// carrying the sender's advertised address, and a pooled connection only
// ever carries one sender's requests, so the proxy knows which link a
// connection belongs to from its first bytes. Cutting a link (from, to)
// closes the connections from->to and refuses new ones; the reverse
// direction is a different link (one-way partitions).
type proxy struct {
	owner string // node id behind the proxy
	ln    net.Listener
	net   *network

	mu     sync.Mutex // guards target, conns and closed
	target string     // the node's real raft address
	conns  map[*proxyConn]struct{}
	// closed is set by close: no new connections are tracked afterwards.
	closed bool
	wg     sync.WaitGroup
}

type proxyConn struct {
	src        string // sender node id, "" if not recognised
	client, up net.Conn
}

// network is the set of proxies and the links currently cut.
type network struct {
	mu      sync.Mutex // guards everything below
	cut     map[[2]string]bool
	byAddr  map[string]string // advertised raft address -> node id
	proxies map[string]*proxy
	delay   time.Duration // added to every forwarded chunk (slow links)
}

func newNetwork() *network {
	return &network{cut: map[[2]string]bool{}, byAddr: map[string]string{}, proxies: map[string]*proxy{}}
}

func (nw *network) isCut(from, to string) bool {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return nw.cut[[2]string{from, to}]
}

// setCut replaces the set of cut links and closes connections on them.
func (nw *network) setCut(links [][2]string) {
	nw.mu.Lock()
	nw.cut = map[[2]string]bool{}
	for _, l := range links {
		nw.cut[l] = true
	}
	ps := make([]*proxy, 0, len(nw.proxies))
	for _, p := range nw.proxies {
		ps = append(ps, p)
	}
	nw.mu.Unlock()
	for _, p := range ps {
		p.dropCut()
	}
}

// senderOf finds the earliest advertised address of another node in b:
// the RPCHeader comes first in every request, so the earliest one is the
// sender's (addresses later in the stream may be configuration entries).
func (nw *network) senderOf(b []byte, self string) string {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	best, bestAt := "", len(b)+1
	for addr, id := range nw.byAddr {
		if id == self {
			continue
		}
		if i := bytes.Index(b, []byte(addr)); i >= 0 && i < bestAt {
			best, bestAt = id, i
		}
	}
	return best
}

func startProxy(nw *network, owner, target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{owner: owner, target: target, ln: ln, net: nw, conns: map[*proxyConn]struct{}{}}
	nw.mu.Lock()
	nw.byAddr[ln.Addr().String()] = owner
	nw.proxies[owner] = p
	nw.mu.Unlock()
	p.wg.Add(1)
	go p.runAccept()
	return p, nil
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// setTarget points the proxy at a new raft port (the node was restarted
// on other ports).
func (p *proxy) setTarget(addr string) {
	p.mu.Lock()
	p.target = addr
	p.mu.Unlock()
}

func (p *proxy) runAccept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c)
		}()
	}
}

func (p *proxy) serve(c net.Conn) {
	// Read until the sender is recognised (the header is in the first few
	// dozen bytes) or 4 KiB / 2 s have passed.
	buf := make([]byte, 0, 4096)
	src := ""
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	for len(buf) < cap(buf) {
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if src = p.net.senderOf(buf, p.owner); src != "" || err != nil {
			break
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	if src != "" && p.net.isCut(src, p.owner) {
		c.Close()
		return
	}
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	up, err := net.DialTimeout("tcp", target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	pc := &proxyConn{src: src, client: c, up: up}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[pc] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, pc)
		p.mu.Unlock()
		c.Close()
		up.Close()
	}()
	if _, err := up.Write(buf); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { p.pipe(up, c); done <- struct{}{} }()
	go func() { p.pipe(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	<-done
}

// pipe copies src to dst, delaying each chunk when the network is slow.
func (p *proxy) pipe(dst, src net.Conn) {
	b := make([]byte, 32<<10)
	for {
		n, err := src.Read(b)
		if n > 0 {
			p.net.mu.Lock()
			d := p.net.delay
			p.net.mu.Unlock()
			if d > 0 {
				time.Sleep(d)
			}
			if _, werr := dst.Write(b[:n]); werr != nil {
				return
			}
		}
		if err != nil { // io.EOF included: the other direction ends too
			return
		}
	}
}

// dropCut closes the connections whose link is now cut.
func (p *proxy) dropCut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pc := range p.conns {
		if pc.src != "" && p.net.isCut(pc.src, p.owner) {
			pc.client.Close()
			pc.up.Close()
		}
	}
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for pc := range p.conns {
		pc.client.Close()
		pc.up.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
