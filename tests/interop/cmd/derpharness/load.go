// load: does a bad client starve the others? A measured pair (p -> q,
// paced) runs on server 1 while a load runs beside it:
//
//	flood   f sends 64 KiB packets to g as fast as derphttp writes; g reads
//	noread  f floods z, which connected and never reads; a mesh watcher
//	        notes when the server gives up on z
//	none    nothing here: the load is outside (derpprobe's bandwidth
//	        probe); the measurement runs until stdin reaches EOF
//
// The pair must get every packet through; latencies are printed.
package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"tailscale.com/derp"
)

const (
	pairPacketBytes = 1200 // a WireGuard packet's size
	drainWait       = 10 * time.Second
	floodPauseOnErr = 50 * time.Millisecond
)

type pairStats struct {
	mu   sync.Mutex
	lat  []time.Duration
	sent atomic.Int64
}

func (s *pairStats) summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := slices.Clone(s.lat)
	slices.Sort(l)
	if len(l) == 0 {
		return fmt.Sprintf("sent %d, received 0", s.sent.Load())
	}
	q := func(f float64) time.Duration { return l[int(f*float64(len(l)-1))] }
	return fmt.Sprintf("sent %d, received %d; latency p50 %v p99 %v max %v", s.sent.Load(), len(l),
		q(0.5).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond),
		l[len(l)-1].Round(10*time.Microsecond))
}

func (s *pairStats) received() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.lat))
}

// flood sends 64 KiB packets from f to dst until stop closes.
func flood(f *client, dst *client, stop <-chan struct{}, sent *atomic.Int64) {
	pkt := payload(derp.MaxPacketSize, tagSize)
	for {
		select {
		case <-stop:
			return
		default:
		}
		if err := f.dc.Send(dst.pub(), pkt); err != nil {
			time.Sleep(floodPauseOnErr)
			continue
		}
		sent.Add(1)
	}
}

func load(e *env, n1 node, kind string, dur time.Duration, rate int) bool {
	ctx := context.Background()
	var all []*client
	defer func() {
		for _, c := range all {
			c.close()
		}
	}()
	dial := func(name string, o clientOpts) *client {
		c, err := e.dial(ctx, name, n1, o)
		if err != nil {
			fmt.Printf("derpharness: FAIL load: %v\n", err)
			return nil
		}
		all = append(all, c)
		return c
	}
	p, q := dial("p", clientOpts{}), dial("q", clientOpts{})
	if p == nil || q == nil {
		return false
	}
	if _, err := warm(p, q, waitLong); err != nil {
		fmt.Printf("derpharness: FAIL load: %v\n", err)
		return false
	}

	stop := make(chan struct{})
	var floodSent atomic.Int64
	var sink, z, w *client
	var zGone chan time.Duration
	t0 := time.Now()
	switch kind {
	case "flood":
		f, g := dial("f", clientOpts{}), dial("g", clientOpts{discard: true})
		if f == nil || g == nil {
			return false
		}
		sink = g
		go flood(f, g, stop, &floodSent)
	case "noread":
		if w = dial("w", clientOpts{mesh: true, watch: true}); w == nil {
			return false
		}
		f := dial("f", clientOpts{})
		if z = dial("z", clientOpts{noRead: true}); f == nil || z == nil {
			return false
		}
		zGone = make(chan time.Duration, 1)
		go func() {
			if _, err := w.waitFor(dur+drainWait, "PeerGone for z", isGone(z.pub())); err == nil {
				zGone <- time.Since(t0)
			}
		}()
		go flood(f, z, stop, &floodSent)
	case "none":
		go func() {
			io.Copy(io.Discard, os.Stdin)
			close(stop)
		}()
	default:
		fmt.Printf("derpharness: FAIL load: unknown load %q\n", kind)
		return false
	}

	// The measured pair: seq and send time in each packet; q times them.
	var st pairStats
	go func() {
		for {
			ev, err := q.next(dur + drainWait)
			if err != nil {
				return
			}
			pk, ok := ev.msg.(derp.ReceivedPacket)
			if !ok || pk.Source != p.pub() || len(pk.Data) != pairPacketBytes || pk.Data[0] != tagSize {
				continue
			}
			sentAt := time.Duration(binary.BigEndian.Uint64(pk.Data[1:9]))
			st.mu.Lock()
			st.lat = append(st.lat, ev.at.Sub(t0)-sentAt)
			st.mu.Unlock()
		}
	}()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	end := time.After(dur)
	sendErrs := 0
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-end:
			if kind != "none" {
				close(stop)
			}
			break loop
		case <-tick.C:
			pkt := payload(pairPacketBytes, tagSize)
			binary.BigEndian.PutUint64(pkt[1:9], uint64(time.Since(t0)))
			if err := p.dc.Send(q.pub(), pkt); err != nil {
				sendErrs++
				continue
			}
			st.sent.Add(1)
		}
	}
	tick.Stop()
	ran := time.Since(t0)
	for deadline := time.Now().Add(drainWait); st.received() < st.sent.Load() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("derpharness: load %s ran %v; measured pair: %s\n", kind, ran.Round(time.Millisecond), st.summary())
	switch kind {
	case "flood":
		fmt.Printf("derpharness: flooder sent %d x 64 KiB; receiver got %d packets, %.1f MB/s\n",
			floodSent.Load(), sink.packets.Load(), float64(sink.bytes.Load())/ran.Seconds()/1e6)
	case "noread":
		select {
		case d := <-zGone:
			fmt.Printf("derpharness: the server closed the client that never reads %v after the flood began (flooder sent %d x 64 KiB)\n",
				d.Round(time.Millisecond), floodSent.Load())
		default:
			fmt.Printf("derpharness: FAIL the server never closed the client that never reads (flooder sent %d x 64 KiB)\n",
				floodSent.Load())
			return false
		}
	}
	ok := true
	if n := st.sent.Load(); n == 0 || st.received() != n || sendErrs != 0 {
		fmt.Printf("derpharness: FAIL the measured pair lost packets (%d send errors)\n", sendErrs)
		ok = false
	}
	if p.fails.Load() != 0 || q.fails.Load() != 0 {
		fmt.Printf("derpharness: FAIL the measured pair lost its connections (%d, %d)\n", p.fails.Load(), q.fails.Load())
		ok = false
	}
	if ok {
		fmt.Printf("derpharness: ok %s load: the measured pair got every packet through\n", kind)
	}
	return ok
}
