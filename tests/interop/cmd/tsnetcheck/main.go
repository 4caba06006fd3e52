// Command tsnetcheck runs one network report with Tailscale's own netcheck
// (tailscale.com/net/netcheck, the code `tailscale netcheck` runs) against a
// DERP map read from a file, and prints the answers msock's netcheck must
// agree with as one JSON object on stdout. Logs go to stderr.
//
//	tsnetcheck -derpmap map.json [-bind 0.0.0.0:41642] [-timeout 10s]
//
// The map is tailcfg.DERPMap JSON, the form msock's config derp_map takes.
// The report's STUN probes leave from one socket bound to -bind (pick the
// port, so a test can tell what an easy NAT should keep).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"msock.test/interop/internal/labfiles"
	"net/netip"
	"strconv"
	"time"

	"tailscale.com/net/netcheck"
	"tailscale.com/net/netmon"
)

// result is what the interop tests compare; field names follow
// netcheck.Report and msock's `msockctl netcheck --json`.
type result struct {
	UDP                   bool
	IPv4                  bool
	GlobalV4              string
	MappingVariesByDestIP string // opt.Bool: "true", "false", or "" (unknown)
	PreferredDERP         int
	RegionLatencyMs       map[string]float64
	GlobalV4Counters      map[string]int
	BindPort              uint16
	ElapsedMs             int64
}

func main() {
	log.SetFlags(log.Lmicroseconds)
	log.SetPrefix("tsnetcheck: ")
	mapFile := flag.String("derpmap", "", "tailcfg.DERPMap JSON file")
	bind := flag.String("bind", "0.0.0.0:0", "address of the STUN socket")
	timeout := flag.Duration("timeout", 10*time.Second, "give up after this long")
	verbose := flag.Bool("v", false, "netcheck's verbose logs")
	flag.Parse()
	if *mapFile == "" || flag.NArg() != 0 {
		log.Fatal("usage: tsnetcheck -derpmap FILE [-bind IP:PORT] [-timeout D] [-v]")
	}
	dm, err := labfiles.DERPMap(*mapFile)
	if err != nil {
		log.Fatal(err)
	}
	if len(dm.Regions) == 0 {
		log.Fatalf("%s: no regions", *mapFile)
	}
	bindAP, err := netip.ParseAddrPort(*bind)
	if err != nil {
		log.Fatalf("-bind %q: %v", *bind, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c := &netcheck.Client{
		NetMon:  netmon.NewStatic(),
		Logf:    log.Printf,
		Verbose: *verbose,
	}
	// Standalone binds udp4 and udp6 at -bind; an IPv4 -bind fails for
	// udp6, which it logs and tolerates (one family suffices).
	if err := c.Standalone(ctx, *bind); err != nil {
		log.Fatalf("Standalone(%s): %v", *bind, err)
	}
	t0 := time.Now()
	r, err := c.GetReport(ctx, dm, nil)
	if err != nil {
		log.Fatalf("GetReport: %v", err)
	}
	out := result{
		UDP:                   r.UDP,
		IPv4:                  r.IPv4,
		MappingVariesByDestIP: string(r.MappingVariesByDestIP),
		PreferredDERP:         r.PreferredDERP,
		RegionLatencyMs:       map[string]float64{},
		GlobalV4Counters:      map[string]int{},
		BindPort:              bindAP.Port(),
		ElapsedMs:             time.Since(t0).Milliseconds(),
	}
	if r.GlobalV4.IsValid() {
		out.GlobalV4 = r.GlobalV4.String()
	}
	for id, d := range r.RegionLatency {
		out.RegionLatencyMs[strconv.Itoa(id)] = float64(d.Microseconds()) / 1000
	}
	for ap, n := range r.GlobalV4Counters {
		out.GlobalV4Counters[ap.String()] = n
	}
	j, err := json.Marshal(out)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(j))
}
