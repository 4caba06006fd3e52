// hold: client a on server 1 and client b on server 2 stay connected while
// the test script kills and restarts servers around them. Commands, one a
// line on stdin; each answers one line "ok ..." or "fail ..." on stdout:
//
//	xfer SECONDS   packets both ways (waits up to SECONDS for the first
//	               delivery each way: a healing mesh), then every size
//	mark           remember each client's connection-failure count
//	alive a|b      the client's connection has not failed since mark,
//	               and it answers a ping
//	gone a|b       the client hears PeerGone(disconnected) for the other
//	               one (its server lost it), within 10 s
//	quit           answers ok and exits
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"tailscale.com/derp"
)

func hold(e *env, n1, n2 node) bool {
	ctx := context.Background()
	a, err := e.dial(ctx, "a", n1, clientOpts{})
	if err != nil {
		fmt.Printf("fail %v\n", err)
		return false
	}
	defer a.close()
	b, err := e.dial(ctx, "b", n2, clientOpts{})
	if err != nil {
		fmt.Printf("fail %v\n", err)
		return false
	}
	defer b.close()
	fmt.Printf("ok a on %s (%s), b on %s (%s)\n", n1.host, n1.ip, n2.host, n2.ip)
	marks := map[*client]int64{}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "quit":
			fmt.Println("ok quit")
			return true
		case "mark":
			marks[a], marks[b] = a.fails.Load(), b.fails.Load()
			fmt.Println("ok mark")
		case "alive":
			c := a
			if len(f) > 1 && f[1] == "b" {
				c = b
			}
			if n := c.fails.Load() - marks[c]; n != 0 {
				fmt.Printf("fail %s: its connection failed %d times since mark\n", c.name, n)
				continue
			}
			rtt, err := pingRTT(c, 1)
			if err != nil {
				fmt.Printf("fail %v\n", err)
				continue
			}
			fmt.Printf("ok %s: connection kept, ping %v\n", c.name, rtt)
		case "gone":
			c, other := a, b
			if len(f) > 1 && f[1] == "b" {
				c, other = b, a
			}
			t0 := time.Now()
			if err := gone(c, other, derp.PeerGoneReasonDisconnected); err != nil {
				fmt.Printf("fail %v\n", err)
				continue
			}
			fmt.Printf("ok %s heard PeerGone(disconnected) for %s after %v\n", c.name, other.name,
				time.Since(t0).Round(time.Millisecond))
		case "xfer":
			secs := 20
			if len(f) > 1 {
				secs, _ = strconv.Atoi(f[1])
			}
			d := time.Duration(secs) * time.Second
			dab, err := warm(a, b, d)
			if err != nil {
				fmt.Printf("fail %v\n", err)
				continue
			}
			dba, err := warm(b, a, d)
			if err != nil {
				fmt.Printf("fail %v\n", err)
				continue
			}
			s, err := both(a, b)
			if err != nil {
				fmt.Printf("fail %v\n", err)
				continue
			}
			fmt.Printf("ok first delivery a->b after %v, b->a after %v; %s\n",
				dab.Round(time.Millisecond), dba.Round(time.Millisecond), s)
		default:
			fmt.Printf("fail unknown command %q\n", f[0])
		}
	}
	return true
}
