// Command derpharness drives a DERP server (msock-derper, or Tailscale's
// derper as a reference) with Tailscale's own DERP client,
// tailscale.com/derp/derphttp, and checks what a Tailscale node would see.
//
//	derpharness relay -s1 NODE -s2 NODE -ca FILE -mesh-key FILE
//	    packets both ways (1 B to 64 KiB) on one server and across the mesh,
//	    Ping/Pong, NotePreferred, PeerGone (not here, disconnected), mesh
//	    watchers on both servers, ClosePeer.
//	derpharness load -s1 NODE -ca FILE -load flood|noread|none -dur D
//	    a second pair's delivery while a flooder, a client that never reads,
//	    or something outside (derpprobe) loads the server.
//	derpharness hold -s1 NODE -s2 NODE -ca FILE
//	    one client on each server, driven by commands on stdin (see hold.go).
//	derpharness idle -s1 NODE -ca FILE
//	    one client that connects, prints its key and waits until killed
//	    (see vanish.go).
//	derpharness vanish -s1 NODE -ca FILE -mesh-key FILE -peer NODEKEY
//	    how long the server takes to drop a client whose network vanished.
//
// NODE is "hostname,ipv4,port": the name the certificate carries (the TLS
// server name) and the address to dial. Every wait is bounded; timings are
// printed, never asserted. Exit status 1 on the first failed check.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log"
	"msock.test/interop/internal/labfiles"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tailscale.com/derp"
	"tailscale.com/derp/derphttp"
	"tailscale.com/net/netmon"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"
)

const (
	regionID       = 900
	connectTimeout = 10 * time.Second // derphttp's own bound on one connect
	eventQueue     = 1 << 14          // events buffered per client before the reader blocks
	reconnectPause = 100 * time.Millisecond
)

// node is one DERP server as the harness dials it.
type node struct {
	host string // TLS server name
	ip   string
	port int
}

func parseNode(s string) (node, error) {
	f := strings.Split(s, ",")
	if len(f) != 3 {
		return node{}, fmt.Errorf("node %q: want hostname,ipv4,port", s)
	}
	port, err := strconv.Atoi(f[2])
	if err != nil || port <= 0 || port > 65535 {
		return node{}, fmt.Errorf("node %q: bad port", s)
	}
	return node{host: f[0], ip: f[1], port: port}, nil
}

func (n node) derpNode(name string) *tailcfg.DERPNode {
	// IPv6 "none": dial the IPv4 address only, never a name lookup.
	return &tailcfg.DERPNode{Name: name, RegionID: regionID, HostName: n.host,
		IPv4: n.ip, IPv6: "none", DERPPort: n.port}
}

// env is what every client needs: trust, the mesh key, a logger.
type env struct {
	roots   *x509.CertPool
	meshKey key.DERPMesh
	verbose bool
}

func loadEnv(caFile, meshFile string, verbose bool) (*env, error) {
	e := &env{verbose: verbose}
	if caFile != "" {
		roots, err := labfiles.CertPool(caFile)
		if err != nil {
			return nil, err
		}
		e.roots = roots
	}
	if meshFile != "" {
		b, err := os.ReadFile(meshFile)
		if err != nil {
			return nil, err
		}
		e.meshKey, err = key.ParseDERPMesh(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", meshFile, err)
		}
	}
	return e, nil
}

// event is one thing a client's reader saw: a message, or its connection
// failing (err).
type event struct {
	msg derp.ReceivedMessage
	gen int
	err error
	at  time.Time
}

type clientOpts struct {
	mesh     bool // log in with the mesh key
	watch    bool // WatchConnectionChanges (needs mesh)
	prober   bool // ClientInfo IsProber
	notIdeal bool // the region's first node is unreachable: Ideal-Node header
	noRead   bool // never call Recv (the server's writes to it back up)
	discard  bool // count packets instead of queueing events (flood receivers)
}

// client is a derphttp.Client with a reader goroutine that turns what it
// receives into events (copied: derphttp reuses its buffers).
type client struct {
	name string
	dc   *derphttp.Client
	ev   chan event

	packets atomic.Int64 // RecvPacket frames (all clients)
	bytes   atomic.Int64
	gen     atomic.Int64 // connection generation of the last message
	fails   atomic.Int64 // reader errors (connection closed under it)
	closed  atomic.Bool
	done    chan struct{}
}

func (e *env) dial(ctx context.Context, name string, n node, o clientOpts) (*client, error) {
	priv := key.NewNode()
	nodes := []*tailcfg.DERPNode{n.derpNode(name)}
	if o.notIdeal {
		// A first node nothing listens on (port 1 of the same address):
		// derphttp moves on to the second and says Ideal-Node.
		ghost := n
		ghost.port = 1
		nodes = append([]*tailcfg.DERPNode{ghost.derpNode(name + "-ideal")}, nodes...)
	}
	region := &tailcfg.DERPRegion{RegionID: regionID, RegionCode: "lab", Nodes: nodes}
	logf := func(format string, args ...any) {
		if e.verbose {
			log.Printf(name+": "+format, args...)
		}
	}
	dc := derphttp.NewRegionClient(priv, logf, netmon.NewStatic(),
		func() *tailcfg.DERPRegion { return region })
	dc.TLSConfig = &tls.Config{RootCAs: e.roots}
	if o.mesh {
		dc.MeshKey = e.meshKey
	}
	dc.IsProber = o.prober
	dc.WatchConnectionChanges = o.watch
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := dc.Connect(cctx); err != nil {
		dc.Close()
		return nil, fmt.Errorf("%s: connect to %s (%s:%d): %w", name, n.host, n.ip, n.port, err)
	}
	c := &client{name: name, dc: dc, ev: make(chan event, eventQueue), done: make(chan struct{})}
	if o.noRead {
		close(c.done)
		return c, nil
	}
	go c.read(o.discard)
	return c, nil
}

func (c *client) read(discard bool) {
	defer close(c.done)
	for {
		m, gen, err := c.dc.RecvDetail()
		if c.closed.Load() || errors.Is(err, derphttp.ErrClientClosed) {
			return
		}
		if err != nil {
			c.fails.Add(1)
			if !discard {
				c.ev <- event{err: err, at: time.Now()}
			}
			time.Sleep(reconnectPause) // the next RecvDetail reconnects
			continue
		}
		c.gen.Store(int64(gen))
		if p, ok := m.(derp.ReceivedPacket); ok {
			c.packets.Add(1)
			c.bytes.Add(int64(len(p.Data)))
			if discard {
				continue
			}
			p.Data = append([]byte(nil), p.Data...)
			m = p
		}
		if discard {
			continue
		}
		c.ev <- event{msg: m, gen: gen, at: time.Now()}
	}
}

func (c *client) pub() key.NodePublic { return c.dc.SelfPublicKey() }

func (c *client) close() {
	c.closed.Store(true)
	c.dc.Close()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
	}
}

// next returns the next event other than a KeepAlive, or an error when
// none comes within d.
func (c *client) next(d time.Duration) (event, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case e := <-c.ev:
			if _, ok := e.msg.(derp.KeepAliveMessage); ok {
				continue
			}
			return e, nil
		case <-t.C:
			return event{}, fmt.Errorf("%s: nothing within %v", c.name, d)
		}
	}
}

// waitFor returns the first event pred accepts within d; every other event
// is passed to skip (which may fail the wait) or dropped.
func (c *client) waitFor(d time.Duration, what string, pred func(event) bool) (event, error) {
	end := time.Now().Add(d)
	var seen []string
	for {
		left := time.Until(end)
		if left <= 0 {
			return event{}, fmt.Errorf("%s: no %s within %v (saw: %s)", c.name, what, d,
				strings.Join(seen, ", "))
		}
		e, err := c.next(left)
		if err != nil {
			continue
		}
		if pred(e) {
			return e, nil
		}
		if len(seen) < 8 {
			seen = append(seen, describe(e))
		}
	}
}

func describe(e event) string {
	if e.err != nil {
		return "error: " + e.err.Error()
	}
	switch m := e.msg.(type) {
	case derp.ReceivedPacket:
		return fmt.Sprintf("packet from %s (%d bytes)", m.Source.ShortString(), len(m.Data))
	case derp.PeerGoneMessage:
		return fmt.Sprintf("PeerGone %s reason %d", m.Peer.ShortString(), m.Reason)
	case derp.PeerPresentMessage:
		return fmt.Sprintf("PeerPresent %s %v flags %#x", m.Key.ShortString(), m.IPPort, m.Flags)
	default:
		return fmt.Sprintf("%T", m)
	}
}

// expectServerInfo checks the first message is ServerInfo, as
// prober.newConn does.
func (c *client) expectServerInfo() error {
	e, err := c.next(5 * time.Second)
	if err != nil {
		return err
	}
	if _, ok := e.msg.(derp.ServerInfoMessage); !ok {
		return fmt.Errorf("%s: first message %s, want ServerInfo", c.name, describe(e))
	}
	return nil
}

// stepper runs named checks in order, printing each with its time.
type stepper struct {
	mu     sync.Mutex
	failed bool
}

func (s *stepper) run(name string, f func() (string, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed {
		return
	}
	t0 := time.Now()
	detail, err := f()
	ms := float64(time.Since(t0).Microseconds()) / 1000
	if err != nil {
		fmt.Printf("derpharness: FAIL %s (%.1f ms): %v\n", name, ms, err)
		s.failed = true
		return
	}
	if detail != "" {
		detail = ": " + detail
	}
	fmt.Printf("derpharness: ok %s (%.1f ms)%s\n", name, ms, detail)
}

func main() {
	log.SetFlags(log.Lmicroseconds)
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: derpharness relay|load|hold|idle|vanish [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	s1 := fs.String("s1", "", "first server: hostname,ipv4,port")
	s2 := fs.String("s2", "", "second server (relay, hold)")
	ca := fs.String("ca", "", "PEM file of the certificates to trust")
	meshFile := fs.String("mesh-key", "", "file with the region's mesh key (64 hex)")
	verbose := fs.Bool("v", false, "log derphttp's messages")
	metrics1 := fs.String("metrics1", "", "shell command printing server 1's Prometheus metrics (relay)")
	loadKind := fs.String("load", "none", "load: flood, noread or none (stops at stdin EOF)")
	dur := fs.Duration("dur", 3*time.Second, "load: how long the load and the measurement run")
	rate := fs.Int("rate", 100, "load: the measured pair's packets per second")
	peer := fs.String("peer", "", "vanish: the nodekey:<hex> of the client that will vanish")
	fs.Parse(os.Args[2:])

	e, err := loadEnv(*ca, *meshFile, *verbose)
	if err != nil {
		log.Fatal(err)
	}
	n1, err := parseNode(*s1)
	if err != nil {
		log.Fatal(err)
	}
	var n2 node
	if os.Args[1] == "relay" || os.Args[1] == "hold" {
		if n2, err = parseNode(*s2); err != nil {
			log.Fatal(err)
		}
	}
	ok := false
	switch os.Args[1] {
	case "relay":
		ok = relay(e, n1, n2, *metrics1)
	case "load":
		ok = load(e, n1, *loadKind, *dur, *rate)
	case "hold":
		ok = hold(e, n1, n2)
	case "idle":
		ok = idle(e, n1)
	case "vanish":
		ok = vanish(e, n1, *peer)
	default:
		log.Fatalf("unknown mode %q", os.Args[1])
	}
	if !ok {
		os.Exit(1)
	}
}
