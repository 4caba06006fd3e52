// relay: what a Tailscale client sees from a region of two meshed servers.
package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"tailscale.com/derp"
	"tailscale.com/disco"
	"tailscale.com/types/key"
)

const (
	waitLong   = 10 * time.Second // a frame the server owes us
	warmUpStep = 100 * time.Millisecond
	// Packet tags (first byte), so a late warm-up packet is never taken
	// for a test packet. None is 'T', the first byte of the disco magic.
	tagWarm = 'W'
	tagSize = 'S'
)

// Sizes from 1 byte to derp.MaxPacketSize (64 KiB), around the edges a
// relay might get wrong (MTU-sized, powers of two).
var sizes = []int{1, 2, 63, 64, 1200, 1280, 1500, 4096, 16384, 32768, 65535, derp.MaxPacketSize}

func payload(n int, tag byte) []byte {
	p := make([]byte, n)
	crand.Read(p)
	p[0] = tag
	return p
}

// discoLike is what disco.LooksLikeDiscoWrapper accepts: the magic, a
// sender key and a nonce (then a box, here random bytes).
func discoLike() []byte {
	p := payload(len(disco.Magic)+key.DiscoPublicRawLen+disco.NonceLen+16, 0)
	copy(p, disco.Magic)
	return p
}

func isPacketFrom(src key.NodePublic, pred func([]byte) bool) func(event) bool {
	return func(e event) bool {
		p, ok := e.msg.(derp.ReceivedPacket)
		return ok && p.Source == src && pred(p.Data)
	}
}

// warm sends small packets from a to b until one arrives: a mesh needs a
// moment to learn where b is. Returns the time to the first delivery.
func warm(a, b *client, d time.Duration) (time.Duration, error) {
	t0 := time.Now()
	for time.Since(t0) < d {
		p := payload(9, tagWarm)
		if err := a.dc.Send(b.pub(), p); err != nil {
			time.Sleep(warmUpStep) // reconnecting; derphttp redials on the next call
			continue
		}
		_, err := b.waitFor(warmUpStep, "warm-up packet", isPacketFrom(a.pub(), func(q []byte) bool {
			return bytes.Equal(q, p)
		}))
		if err == nil {
			return time.Since(t0), nil
		}
	}
	return 0, fmt.Errorf("%s -> %s: nothing arrived within %v", a.name, b.name, d)
}

// exchange sends one packet of every size from a to b, then checks they
// arrive whole, in order, from a.
func exchange(a, b *client) error {
	var sent [][]byte
	for _, n := range sizes {
		p := payload(n, tagSize)
		if err := a.dc.Send(b.pub(), p); err != nil {
			return fmt.Errorf("%s: send %d bytes: %v", a.name, n, err)
		}
		sent = append(sent, p)
	}
	for i, want := range sent {
		e, err := b.waitFor(waitLong, fmt.Sprintf("packet %d (%d bytes) from %s", i, len(want), a.name),
			isPacketFrom(a.pub(), func(q []byte) bool { return len(q) > 0 && q[0] == tagSize }))
		if err != nil {
			return err
		}
		got := e.msg.(derp.ReceivedPacket).Data
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s: packet %d: got %d bytes, want %d (or contents differ)", b.name, i, len(got), len(want))
		}
	}
	return nil
}

func both(a, b *client) (string, error) {
	t0 := time.Now()
	if err := exchange(a, b); err != nil {
		return "", err
	}
	if err := exchange(b, a); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d packets each way, %d..%d bytes, in %v", len(sizes), sizes[0],
		sizes[len(sizes)-1], time.Since(t0).Round(time.Millisecond)), nil
}

func pingRTT(c *client, n int) (time.Duration, error) {
	var rtts []time.Duration
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t0 := time.Now()
		err := c.dc.Ping(ctx)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("%s: ping: %v", c.name, err)
		}
		rtts = append(rtts, time.Since(t0))
	}
	slices.Sort(rtts)
	return rtts[len(rtts)/2], nil
}

// gauge runs cmd (a shell command printing Prometheus text) and returns
// metric name's value.
func gauge(cmd, name string) (int64, error) {
	out, err := exec.Command("sh", "-c", cmd).Output()
	if err != nil {
		return 0, fmt.Errorf("%s: %v", cmd, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == name {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in the output of %s", name, cmd)
}

func isGone(peer key.NodePublic) func(event) bool {
	return func(e event) bool {
		m, ok := e.msg.(derp.PeerGoneMessage)
		return ok && m.Peer == peer
	}
}

func isPresent(peer key.NodePublic) func(event) bool {
	return func(e event) bool {
		m, ok := e.msg.(derp.PeerPresentMessage)
		return ok && m.Key == peer
	}
}

// present waits for w's PeerPresent of c and checks its flags and, for a
// client (not a server), that IPPort is the client's own address.
func present(w *client, c *client, flags derp.PeerPresentFlags) error {
	e, err := w.waitFor(waitLong, "PeerPresent for "+c.name, isPresent(c.pub()))
	if err != nil {
		return err
	}
	m := e.msg.(derp.PeerPresentMessage)
	if m.Flags != flags {
		return fmt.Errorf("%s: PeerPresent for %s: flags %#x, want %#x", w.name, c.name, m.Flags, flags)
	}
	la, err := c.dc.LocalAddr()
	if err != nil {
		return err
	}
	if m.IPPort != la {
		return fmt.Errorf("%s: PeerPresent for %s: IPPort %v, want %v", w.name, c.name, m.IPPort, la)
	}
	return nil
}

func gone(w *client, c *client, reason derp.PeerGoneReasonType) error {
	e, err := w.waitFor(waitLong, "PeerGone for "+c.name, isGone(c.pub()))
	if err != nil {
		return err
	}
	if r := e.msg.(derp.PeerGoneMessage).Reason; r != reason {
		return fmt.Errorf("%s: PeerGone for %s: reason %d, want %d", w.name, c.name, r, reason)
	}
	return nil
}

// initialDump collects w's PeerPresent frames until every key of want has
// been seen, and returns the flags of each.
func initialDump(w *client, want map[key.NodePublic]string) (map[key.NodePublic]derp.PeerPresentFlags, error) {
	got := map[key.NodePublic]derp.PeerPresentFlags{}
	for len(got) < len(want) {
		e, err := w.waitFor(waitLong, "the initial PeerPresent dump", func(e event) bool {
			_, ok := e.msg.(derp.PeerPresentMessage)
			return ok
		})
		if err != nil {
			var missing []string
			for k, name := range want {
				if _, ok := got[k]; !ok {
					missing = append(missing, name)
				}
			}
			return nil, fmt.Errorf("%v (missing: %s)", err, strings.Join(missing, ", "))
		}
		m := e.msg.(derp.PeerPresentMessage)
		if _, ok := want[m.Key]; ok {
			got[m.Key] = m.Flags
		}
	}
	return got, nil
}

// closedUnder waits for c's reader to see its connection fail.
func closedUnder(c *client) error {
	_, err := c.waitFor(waitLong, "its connection closing", func(e event) bool { return e.err != nil })
	return err
}

// stillUp checks c never lost its connection and still answers a ping.
func stillUp(c *client) error {
	if n := c.fails.Load(); n != 0 {
		return fmt.Errorf("%s: its connection failed %d times", c.name, n)
	}
	_, err := pingRTT(c, 1)
	return err
}

func relay(e *env, n1, n2 node, metrics1 string) bool {
	ctx := context.Background()
	var st stepper
	var a1, b1, a2 *client
	cleanup := []*client{}
	defer func() {
		for _, c := range cleanup {
			c.close()
		}
	}()
	dial := func(name string, n node, o clientOpts) (*client, error) {
		c, err := e.dial(ctx, name, n, o)
		if err == nil {
			cleanup = append(cleanup, c)
		}
		return c, err
	}

	st.run("login: ServerInfo first, on both servers", func() (string, error) {
		var err error
		if a1, err = dial("a1", n1, clientOpts{}); err != nil {
			return "", err
		}
		if b1, err = dial("b1", n1, clientOpts{}); err != nil {
			return "", err
		}
		if a2, err = dial("a2", n2, clientOpts{}); err != nil {
			return "", err
		}
		for _, c := range []*client{a1, b1, a2} {
			if err := c.expectServerInfo(); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("server keys %s, %s", a1.dc.ServerPublicKey().ShortString(),
			a2.dc.ServerPublicKey().ShortString()), nil
	})
	st.run("packets both ways on one server", func() (string, error) { return both(a1, b1) })
	st.run("packets both ways across the mesh", func() (string, error) {
		d1, err := warm(a1, a2, waitLong)
		if err != nil {
			return "", err
		}
		d2, err := warm(a2, a1, waitLong)
		if err != nil {
			return "", err
		}
		s, err := both(a1, a2)
		return fmt.Sprintf("first delivery after %v / %v; %s", d1.Round(time.Millisecond),
			d2.Round(time.Millisecond), s), err
	})
	st.run("Ping/Pong", func() (string, error) {
		r1, err := pingRTT(a1, 5)
		if err != nil {
			return "", err
		}
		r2, err := pingRTT(a2, 5)
		return fmt.Sprintf("median RTT %v (server 1), %v (server 2)", r1, r2), err
	})
	st.run("NotePreferred", func() (string, error) {
		const g = "derp_current_home_connections"
		if metrics1 == "" {
			a1.dc.NotePreferred(true)
			return "no metrics command: only checked the connection stays up", stillUp(a1)
		}
		g0, err := gauge(metrics1, g)
		if err != nil {
			return "", err
		}
		a1.dc.NotePreferred(true)
		if _, err := pingRTT(a1, 1); err != nil { // the server has read the frame before the ping
			return "", err
		}
		g1, err := gauge(metrics1, g)
		if err != nil {
			return "", err
		}
		a1.dc.NotePreferred(false)
		if _, err := pingRTT(a1, 1); err != nil {
			return "", err
		}
		g2, err := gauge(metrics1, g)
		if err != nil {
			return "", err
		}
		if g1 != g0+1 || g2 != g0 {
			return "", fmt.Errorf("%s: %d, then %d after NotePreferred(true), %d after false", g, g0, g1, g2)
		}
		return fmt.Sprintf("%s %d -> %d -> %d", g, g0, g1, g2), nil
	})
	st.run("PeerGone(not here): only for a disco packet", func() (string, error) {
		k1, k2 := key.NewNode().Public(), key.NewNode().Public()
		if err := a1.dc.Send(k1, payload(100, tagSize)); err != nil {
			return "", err
		}
		if err := a1.dc.Send(k2, discoLike()); err != nil {
			return "", err
		}
		ev, err := a1.waitFor(waitLong, "PeerGone", func(e event) bool {
			m, ok := e.msg.(derp.PeerGoneMessage)
			return ok && (m.Peer == k1 || m.Peer == k2)
		})
		if err != nil {
			return "", err
		}
		m := ev.msg.(derp.PeerGoneMessage)
		if m.Peer == k1 {
			return "", fmt.Errorf("PeerGone for the key sent a non-disco packet")
		}
		if m.Reason != derp.PeerGoneReasonNotHere {
			return "", fmt.Errorf("reason %d, want %d (not here)", m.Reason, derp.PeerGoneReasonNotHere)
		}
		return "", nil
	})
	st.run("PeerGone(disconnected) when a sender leaves, same server", func() (string, error) {
		c1, err := dial("c1", n1, clientOpts{})
		if err != nil {
			return "", err
		}
		if _, err := warm(c1, b1, waitLong); err != nil {
			return "", err
		}
		c1.close()
		return "", gone(b1, c1, derp.PeerGoneReasonDisconnected)
	})
	st.run("PeerGone(disconnected) when a sender leaves, across the mesh", func() (string, error) {
		c2, err := dial("c2", n1, clientOpts{})
		if err != nil {
			return "", err
		}
		if _, err := warm(c2, a2, waitLong); err != nil {
			return "", err
		}
		c2.close()
		return "", gone(a2, c2, derp.PeerGoneReasonDisconnected)
	})
	var w1, w2 *client
	st.run("mesh watchers: the initial PeerPresent dump", func() (string, error) {
		var err error
		if w1, err = dial("w1", n1, clientOpts{mesh: true, watch: true}); err != nil {
			return "", err
		}
		if w2, err = dial("w2", n2, clientOpts{mesh: true, watch: true}); err != nil {
			return "", err
		}
		srv1, srv2 := a1.dc.ServerPublicKey(), a2.dc.ServerPublicKey()
		got1, err := initialDump(w1, map[key.NodePublic]string{a1.pub(): "a1", b1.pub(): "b1",
			w1.pub(): "w1 itself", srv2: "server 2's mesh link"})
		if err != nil {
			return "", err
		}
		got2, err := initialDump(w2, map[key.NodePublic]string{a2.pub(): "a2", w2.pub(): "w2 itself",
			srv1: "server 1's mesh link"})
		if err != nil {
			return "", err
		}
		want := map[string]derp.PeerPresentFlags{
			"a1": got1[a1.pub()], "b1": got1[b1.pub()], "a2": got2[a2.pub()],
		}
		for name, f := range want {
			if f != derp.PeerPresentIsRegular {
				return "", fmt.Errorf("%s: flags %#x, want %#x (regular)", name, f, derp.PeerPresentIsRegular)
			}
		}
		for name, f := range map[string]derp.PeerPresentFlags{"w1": got1[w1.pub()],
			"server 2's link": got1[srv2], "w2": got2[w2.pub()], "server 1's link": got2[srv1]} {
			if f != derp.PeerPresentIsMeshPeer {
				return "", fmt.Errorf("%s: flags %#x, want %#x (mesh peer)", name, f, derp.PeerPresentIsMeshPeer)
			}
		}
		return "each watcher saw its server's clients, itself and the other server's link", nil
	})
	st.run("mesh watchers: PeerPresent/PeerGone as clients come and go, both servers", func() (string, error) {
		n1c, err := dial("n1", n1, clientOpts{})
		if err != nil {
			return "", err
		}
		if err := present(w1, n1c, derp.PeerPresentIsRegular); err != nil {
			return "", err
		}
		p2, err := dial("p2", n2, clientOpts{prober: true})
		if err != nil {
			return "", err
		}
		if err := present(w2, p2, derp.PeerPresentIsProber); err != nil {
			return "", err
		}
		i2, err := dial("i2", n2, clientOpts{notIdeal: true})
		if err != nil {
			return "", err
		}
		if err := present(w2, i2, derp.PeerPresentNotIdeal); err != nil {
			return "", err
		}
		n1c.close()
		if err := gone(w1, n1c, derp.PeerGoneReasonDisconnected); err != nil {
			return "", err
		}
		p2.close()
		if err := gone(w2, p2, derp.PeerGoneReasonDisconnected); err != nil {
			return "", err
		}
		return "regular, prober and not-ideal flags; PeerGone(disconnected)", nil
	})
	st.run("ClosePeer closes the right client", func() (string, error) {
		x1, err := dial("x1", n1, clientOpts{})
		if err != nil {
			return "", err
		}
		y1, err := dial("y1", n1, clientOpts{})
		if err != nil {
			return "", err
		}
		m1, err := dial("m1", n1, clientOpts{mesh: true})
		if err != nil {
			return "", err
		}
		if err := m1.dc.ClosePeer(x1.pub()); err != nil {
			return "", err
		}
		if err := closedUnder(x1); err != nil {
			return "", err
		}
		if err := stillUp(y1); err != nil {
			return "", err
		}
		if err := stillUp(m1); err != nil {
			return "", err
		}
		// Without the mesh key ClosePeer closes the asker, not the target.
		r1, err := dial("r1", n1, clientOpts{})
		if err != nil {
			return "", err
		}
		if err := r1.dc.ClosePeer(y1.pub()); err != nil {
			return "", err
		}
		if err := closedUnder(r1); err != nil {
			return "", err
		}
		return "mesh client closed x1 (y1 kept); a plain client's ClosePeer closed itself", stillUp(y1)
	})
	return !st.failed
}
