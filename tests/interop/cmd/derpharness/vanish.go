// idle and vanish: a client whose network disappears (no FIN, no RST: the
// test takes its namespace's link down) must be dropped by the server once
// data to it goes unacknowledged (TCP_USER_TIMEOUT, -tcp-user-timeout),
// not after the kernel's ~15 minutes of retransmissions: until then the
// server still routes packets to it and its mesh peers still think it is
// there.
//
//	idle    connects, prints "ok nodekey:<hex>", waits until killed
//	vanish  a mesh watcher waits for -peer's PeerPresent and prints
//	        "ready"; after a line on stdin (the link is down by then) a
//	        second client sends to -peer every 100 ms until the watcher
//	        sees PeerGone for it, and prints how long that took
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"time"

	"tailscale.com/derp"
	"tailscale.com/types/key"
)

const (
	vanishBound = 60 * time.Second // the longest the server may take
	vanishEvery = 100 * time.Millisecond
)

func idle(e *env, n node) bool {
	c, err := e.dial(context.Background(), "idle", n, clientOpts{})
	if err != nil {
		fmt.Printf("fail %v\n", err)
		return false
	}
	defer c.close()
	fmt.Printf("ok %s\n", c.pub())
	select {} // until killed: the test takes its link down first
}

func vanish(e *env, n node, peerText string) bool {
	var peer key.NodePublic
	if err := peer.UnmarshalText([]byte(peerText)); err != nil {
		fmt.Printf("fail -peer %q: %v\n", peerText, err)
		return false
	}
	ctx := context.Background()
	w, err := e.dial(ctx, "w", n, clientOpts{mesh: true, watch: true})
	if err != nil {
		fmt.Printf("fail %v\n", err)
		return false
	}
	defer w.close()
	s, err := e.dial(ctx, "s", n, clientOpts{})
	if err != nil {
		fmt.Printf("fail %v\n", err)
		return false
	}
	defer s.close()
	if _, err := w.waitFor(waitLong, "PeerPresent for the client to vanish", isPresent(peer)); err != nil {
		fmt.Printf("fail %v\n", err)
		return false
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Printf("fail stdin: %v\n", err)
		return false
	}
	t0 := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(vanishEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				s.dc.Send(peer, payload(100, tagSize))
			}
		}
	}()
	ev, err := w.waitFor(vanishBound, "PeerGone for the vanished client", isGone(peer))
	if err != nil {
		fmt.Printf("fail the server still has the vanished client after %v: %v\n", vanishBound, err)
		return false
	}
	fmt.Printf("ok the server dropped the vanished client %v after its link went down (reason %d; sending to it every %v)\n",
		ev.at.Sub(t0).Round(time.Millisecond), ev.msg.(derp.PeerGoneMessage).Reason, vanishEvery)
	return true
}
