// Command tsdiscopeer is a disco peer built from Tailscale's own packages:
// a DERP client (tailscale.com/derp/derphttp) that sends and answers disco
// messages (tailscale.com/disco, sealed with tailscale.com/types/key as
// magicsock seals them: magic, sender disco key, NaCl box). The interop
// tests list it as a peer of a msock node and check both directions.
//
//	tsdiscopeer keygen FILE
//	    writes a node and a disco private key to FILE (0600) and prints
//	    "nodekey:<hex> discokey:<hex>", what the msock node's config names.
//	tsdiscopeer run -keys FILE -derpmap MAP -region ID -ca PEM \
//	    -peer nodekey:<hex> -peer-disco discokey:<hex> [-pings N] [-for D]
//	    connects to the region's first DERP node (TLS verified against
//	    PEM), pings the peer once a second until a pong comes (at most N),
//	    then answers the peer's pings with pongs, as magicsock does over
//	    DERP, until D has passed or SIGTERM; exits 0 if a pong came.
//
// Events go to stdout, one a line, for the test to grep:
//
//	connected region=900 server=nodekey:...
//	ping-sent tx=<hex>
//	pong tx=<hex> src=<ip:port> rtt_ms=<ms>
//	cmm endpoints=<ip:port,...>
//	ping-answered tx=<hex> node_key=<ok|absent|wrong>
//	dropped why=<...>           (a message magicsock would refuse)
//	ignored: unknown type 0x..   (one it would drop quietly)
//	summary pongs=N pings_answered=N cmm=N dropped=N
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"msock.test/interop/internal/labfiles"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go4.org/mem"
	"tailscale.com/derp"
	"tailscale.com/derp/derphttp"
	"tailscale.com/disco"
	"tailscale.com/net/netmon"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"
)

// keyFile is the on-disk form of the peer's two private keys (raw hex:
// key.DiscoPrivate has no text form).
type keyFile struct {
	Node  string
	Disco string
}

func main() {
	log.SetFlags(log.Lmicroseconds)
	log.SetPrefix("tsdiscopeer: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: tsdiscopeer keygen FILE | run -keys FILE ...")
	}
	switch os.Args[1] {
	case "keygen":
		if len(os.Args) != 3 {
			log.Fatal("usage: tsdiscopeer keygen FILE")
		}
		keygen(os.Args[2])
	case "run":
		os.Exit(run(os.Args[2:]))
	default:
		log.Fatalf("unknown command %q", os.Args[1])
	}
}

func raw32() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		log.Fatal(err)
	}
	return b
}

func keygen(path string) {
	nk, dk := raw32(), raw32()
	j, _ := json.Marshal(keyFile{Node: hex.EncodeToString(nk), Disco: hex.EncodeToString(dk)})
	if err := os.WriteFile(path, j, 0o600); err != nil {
		log.Fatal(err)
	}
	node, dsc := loadKeys(path)
	fmt.Printf("%s %s\n", node.Public(), dsc.Public())
}

func loadKeys(path string) (key.NodePrivate, key.DiscoPrivate) {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	var kf keyFile
	if err := json.Unmarshal(b, &kf); err != nil {
		log.Fatalf("%s: %v", path, err)
	}
	nk, err1 := hex.DecodeString(kf.Node)
	dk, err2 := hex.DecodeString(kf.Disco)
	if err1 != nil || err2 != nil || len(nk) != 32 || len(dk) != 32 {
		log.Fatalf("%s: keys are not 32 bytes of hex", path)
	}
	return key.NodePrivateFromRaw32(mem.B(nk)), key.DiscoPrivateFromRaw32(mem.B(dk))
}

// peer is what run knows of the one peer it talks to.
type peer struct {
	node   key.NodePublic
	disco  key.DiscoPublic
	shared key.DiscoShared
}

// seal builds a disco packet as magicsock's sendDiscoMessage does.
func seal(self key.DiscoPublic, p *peer, m disco.Message) []byte {
	pkt := append([]byte(disco.Magic), self.AppendTo(nil)...)
	return append(pkt, p.shared.Seal(m.AppendMarshal(nil))...)
}

// open checks a packet from DERP source src and returns its message, or
// why it was dropped (magicsock's handleDiscoMessage checks the same).
func open(p *peer, src key.NodePublic, pkt []byte) (disco.Message, string) {
	if src != p.node {
		return nil, "from another node key " + src.String()
	}
	sender, ok := disco.Source(pkt)
	if !ok {
		return nil, "not a disco packet"
	}
	if key.DiscoPublicFromRaw32(mem.B(sender)) != p.disco {
		return nil, "sealed by another disco key"
	}
	clear, ok := p.shared.Open(pkt[len(disco.Magic)+len(sender):])
	if !ok {
		return nil, "box does not open"
	}
	m, err := disco.Parse(clear)
	if err != nil {
		if len(clear) > 0 && strings.HasPrefix(err.Error(), "unknown message type") {
			// magicsock drops these quietly (msock's ProbeMe, 0xf0, is one).
			return nil, fmt.Sprintf("ignored: unknown type 0x%02x", clear[0])
		}
		return nil, "parse: " + err.Error()
	}
	return m, ""
}

func run(args []string) int {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	keys := fs.String("keys", "", "key file from keygen")
	mapFile := fs.String("derpmap", "", "tailcfg.DERPMap JSON file")
	regionID := fs.Int("region", 900, "DERP region to connect to")
	caFile := fs.String("ca", "", "PEM certificates the DERP server's chain must end in")
	peerNode := fs.String("peer", "", "the peer's nodekey:<hex>")
	peerDisco := fs.String("peer-disco", "", "the peer's discokey:<hex>")
	pings := fs.Int("pings", 10, "pings to send, one a second, until a pong")
	dur := fs.Duration("for", 30*time.Second, "run this long, answering the peer's pings")
	fs.Parse(args)
	if *keys == "" || *mapFile == "" || *caFile == "" || *peerNode == "" || *peerDisco == "" {
		log.Fatal("run needs -keys, -derpmap, -ca, -peer and -peer-disco")
	}
	nodePriv, discoPriv := loadKeys(*keys)
	var p peer
	if err := p.node.UnmarshalText([]byte(*peerNode)); err != nil {
		log.Fatalf("-peer: %v", err)
	}
	if err := p.disco.UnmarshalText([]byte(*peerDisco)); err != nil {
		log.Fatalf("-peer-disco: %v", err)
	}
	p.shared = discoPriv.Shared(p.disco)

	dm, err := labfiles.DERPMap(*mapFile)
	if err != nil {
		log.Fatal(err)
	}
	reg := dm.Regions[*regionID]
	if reg == nil {
		log.Fatalf("%s: no region %d", *mapFile, *regionID)
	}
	for _, n := range reg.Nodes {
		n.InsecureForTests = false // verified against -ca, never skipped
	}
	pool, err := labfiles.CertPool(*caFile)
	if err != nil {
		log.Fatal(err)
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	ctx, cancelDur := context.WithTimeout(ctx, *dur)
	defer cancelDur()

	dc := derphttp.NewRegionClient(nodePriv, log.Printf, netmon.NewStatic(), func() *tailcfg.DERPRegion { return reg })
	dc.TLSConfig = &tls.Config{RootCAs: pool}
	defer dc.Close()
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	err = dc.Connect(cctx)
	ccancel()
	if err != nil {
		log.Printf("connect to region %d: %v", *regionID, err)
		return 1
	}
	fmt.Printf("connected region=%d server=%s\n", *regionID, dc.ServerPublicKey())

	type rx struct {
		src key.NodePublic
		pkt []byte
	}
	rxc := make(chan rx, 64)
	go func() {
		for {
			m, err := dc.Recv()
			if err != nil {
				if ctx.Err() == nil {
					log.Printf("recv: %v", err)
				}
				close(rxc)
				return
			}
			if rp, ok := m.(derp.ReceivedPacket); ok {
				rxc <- rx{rp.Source, append([]byte(nil), rp.Data...)}
			}
		}
	}()

	self := discoPriv.Public()
	sent := map[[12]byte]time.Time{}
	var nPongs, nAnswered, nCMM, nDropped, nSent int
	sendPing := func() {
		var tx [12]byte
		rand.Read(tx[:])
		ping := &disco.Ping{TxID: tx, NodeKey: nodePriv.Public()}
		if err := dc.Send(p.node, seal(self, &p, ping)); err != nil {
			log.Printf("send ping: %v", err)
			return
		}
		sent[tx] = time.Now()
		nSent++
		fmt.Printf("ping-sent tx=%x\n", tx)
	}
	sendPing()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	// magicsock answers a ping that came over DERP with this Src.
	derpSrc := netip.AddrPortFrom(tailcfg.DerpMagicIPAddr, uint16(*regionID))
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			if nPongs == 0 && nSent < *pings {
				sendPing()
			}
		case r, ok := <-rxc:
			if !ok {
				break loop
			}
			m, why := open(&p, r.src, r.pkt)
			if m == nil && strings.HasPrefix(why, "ignored: ") {
				fmt.Printf("%s\n", why)
				continue
			}
			if m == nil {
				nDropped++
				fmt.Printf("dropped why=%q\n", why)
				continue
			}
			switch m := m.(type) {
			case *disco.Pong:
				t, ok := sent[m.TxID]
				if !ok {
					nDropped++
					fmt.Printf("dropped why=%q\n", fmt.Sprintf("pong for tx %x we never sent", m.TxID))
					continue
				}
				delete(sent, m.TxID)
				nPongs++
				fmt.Printf("pong tx=%x src=%s rtt_ms=%.3f\n", m.TxID, m.Src,
					float64(time.Since(t).Microseconds())/1000)
			case *disco.Ping:
				nk := "absent"
				if !m.NodeKey.IsZero() {
					nk = "wrong"
					if m.NodeKey == p.node {
						nk = "ok"
					}
				}
				pong := &disco.Pong{TxID: m.TxID, Src: derpSrc}
				if err := dc.Send(p.node, seal(self, &p, pong)); err != nil {
					log.Printf("send pong: %v", err)
					continue
				}
				nAnswered++
				fmt.Printf("ping-answered tx=%x node_key=%s\n", m.TxID, nk)
			case *disco.CallMeMaybe:
				nCMM++
				eps := make([]string, len(m.MyNumber))
				for i, ep := range m.MyNumber {
					eps[i] = ep.String()
				}
				fmt.Printf("cmm endpoints=%s\n", strings.Join(eps, ","))
			default:
				fmt.Printf("other msg=%q\n", disco.MessageSummary(m))
			}
		}
	}
	fmt.Printf("summary pongs=%d pings_answered=%d cmm=%d dropped=%d\n", nPongs, nAnswered, nCMM, nDropped)
	if nPongs == 0 {
		return 1
	}
	return 0
}
