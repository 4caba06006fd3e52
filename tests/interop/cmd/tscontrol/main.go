// Command tscontrol is the lab's control server for a real tailscaled: it
// runs Tailscale's own stand-in control server
// (tailscale.com/tstest/integration/testcontrol) in process, with the
// lab's DERP map, and makes msock nodes (which have no control client) its
// peers. What a real node reports to it (node key, disco key, endpoints,
// home DERP) it writes out for the msock node's config; what a msock node
// has (its keys, and later its endpoints) it pushes to every real node as
// a peer, as Tailscale's control server would.
//
//	tscontrol -listen 198.18.3.3:80 [-tls-listen 198.18.3.3:443] \
//	    -derpmap MAP.json -dir DIR \
//	    [-msock name,nodekey:<hex>,discokey:<hex>,ID[,HOMEDERP] ...]
//
// tailscaled reaches control over plain HTTP on port 80 first; a second
// Noise dial within two minutes of the last (a reconnect) is forced to
// port 443 over TLS (controlhttp's forceNoise443, for networks that break
// port 80), whatever port the URL names: -tls-listen serves the same on
// TLS with a self-signed certificate (Noise authenticates the server; the
// client only warns about the certificate).
//
// Each -msock adds a peer node: ID (> 100, not used by tailscaled's
// registrations, which count from 1) gives its address 100.64.ID/32.
//
// Out: DIR/url (the base URL, written once it listens) and, for each real
// node, DIR/nodes/<hostname>.json, rewritten whenever the node reports
// something new:
//
//	{"name": "...", "node_key": "nodekey:<hex>", "wg_key": "<base64>",
//	 "disco_key": "discokey:<hex>", "home_derp": 900,
//	 "endpoints": ["198.18.1.1:41641", ...], "address": "100.64.0.1"}
//
// In (HTTP, the same listener): POST /lab/msock with a JSON body
// {"node_key": "nodekey:<hex>", "endpoints": [...], "home_derp": N}
// updates a -msock node's endpoints and home DERP and pushes the change to
// every real node (a real node's map request does that). Everything else
// is testcontrol's (/key, /ts2021, /machine/...).
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"msock.test/interop/internal/labfiles"
	"tailscale.com/net/tsaddr"
	"tailscale.com/tailcfg"
	"tailscale.com/tstest/integration/testcontrol"
	"tailscale.com/types/key"
)

// The one user every node belongs to (testcontrol's AllNodesSameUser).
const labUser = tailcfg.UserID(123)

type msockFlags []string

func (m *msockFlags) String() string     { return strings.Join(*m, " ") }
func (m *msockFlags) Set(v string) error { *m = append(*m, v); return nil }

// realNode is the file written for each real (tailscaled) node.
type realNode struct {
	Name      string   `json:"name"`
	NodeKey   string   `json:"node_key"`
	WGKey     string   `json:"wg_key"`
	DiscoKey  string   `json:"disco_key"`
	HomeDERP  int      `json:"home_derp"`
	Endpoints []string `json:"endpoints"`
	Address   string   `json:"address"`
}

// msockUpdate is the body of POST /lab/msock.
type msockUpdate struct {
	NodeKey   string   `json:"node_key"`
	Endpoints []string `json:"endpoints"`
	HomeDERP  int      `json:"home_derp"`
}

// peerNode builds the tailcfg.Node of a msock node from a -msock value.
func peerNode(spec string) (*tailcfg.Node, error) {
	f := strings.Split(spec, ",")
	if len(f) < 4 || len(f) > 5 {
		return nil, fmt.Errorf("-msock %q: want name,nodekey:<hex>,discokey:<hex>,ID[,HOMEDERP]", spec)
	}
	var nk key.NodePublic
	if err := nk.UnmarshalText([]byte(f[1])); err != nil {
		return nil, fmt.Errorf("-msock %q: node key: %v", spec, err)
	}
	var dk key.DiscoPublic
	if err := dk.UnmarshalText([]byte(f[2])); err != nil {
		return nil, fmt.Errorf("-msock %q: disco key: %v", spec, err)
	}
	id, err := strconv.Atoi(f[3])
	if err != nil || id <= 100 || id > 65535 {
		return nil, fmt.Errorf("-msock %q: ID must be 101..65535", spec)
	}
	home := 0
	if len(f) == 5 {
		if home, err = strconv.Atoi(f[4]); err != nil {
			return nil, fmt.Errorf("-msock %q: home DERP: %v", spec, err)
		}
	}
	v4 := netip.PrefixFrom(netip.AddrFrom4([4]byte{100, 64, byte(id >> 8), byte(id)}), 32)
	v6 := netip.PrefixFrom(tsaddr.Tailscale4To6(v4.Addr()), 128)
	hi := &tailcfg.Hostinfo{Hostname: f[0], OS: "linux"}
	return &tailcfg.Node{
		ID:                tailcfg.NodeID(id),
		StableID:          tailcfg.StableNodeID(fmt.Sprintf("MSOCK%08x", id)),
		Name:              f[0] + ".fake-control.example.net.",
		User:              labUser,
		Machine:           key.NewMachine().Public(),
		Key:               nk,
		DiscoKey:          dk,
		Addresses:         []netip.Prefix{v4, v6},
		AllowedIPs:        []netip.Prefix{v4, v6},
		HomeDERP:          home,
		Hostinfo:          hi.View(),
		MachineAuthorized: true,
		Cap:               tailcfg.CurrentCapabilityVersion,
	}, nil
}

// describe is the file form of a real node, as the control server has it.
func describe(n *tailcfg.Node) realNode {
	raw := n.Key.Raw32()
	r := realNode{
		Name:      n.Hostinfo.Hostname(),
		NodeKey:   n.Key.String(),
		WGKey:     base64.StdEncoding.EncodeToString(raw[:]),
		DiscoKey:  n.DiscoKey.String(),
		HomeDERP:  n.HomeDERP,
		Endpoints: []string{},
	}
	for _, ep := range n.Endpoints {
		r.Endpoints = append(r.Endpoints, ep.String())
	}
	for _, a := range n.Addresses {
		if a.Addr().Is4() {
			r.Address = a.Addr().String()
		}
	}
	if r.Name == "" {
		r.Name = fmt.Sprintf("node%d", n.ID)
	}
	return r
}

// selfSigned makes a throwaway certificate for the host of hostport.
func selfSigned(hostport string) (tls.Certificate, error) {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return tls.Certificate{}, err
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(48 * time.Hour),
		DNSNames:     []string{host},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}, nil
}

// writeAtomic writes b to path through a temporary file and a rename, so
// a reader never sees half a file.
func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func main() {
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	listen := flag.String("listen", "", "address:port to serve on")
	tlsListen := flag.String("tls-listen", "", "address:port to serve on over TLS too")
	mapPath := flag.String("derpmap", "", "the lab's DERP map (Tailscale's JSON)")
	dir := flag.String("dir", "", "directory for url and nodes/*.json")
	var specs msockFlags
	flag.Var(&specs, "msock", "a msock peer: name,nodekey:<hex>,discokey:<hex>,ID[,HOMEDERP] (repeatable)")
	flag.Parse()
	if *listen == "" || *mapPath == "" || *dir == "" {
		log.Fatal("usage: tscontrol -listen ADDR:PORT -derpmap MAP -dir DIR [-msock SPEC ...]")
	}
	dm, err := labfiles.DERPMap(*mapPath)
	if err != nil {
		log.Fatalf("derp map: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(*dir, "nodes"), 0o755); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	base := "http://" + ln.Addr().String()
	s := &testcontrol.Server{
		DERPMap:          dm,
		ExplicitBaseURL:  base,
		AllNodesSameUser: true,
		AllOnline:        true,
		Logf:             func(f string, a ...any) { log.Printf("testcontrol: "+f, a...) },
	}
	peers := map[key.NodePublic]*tailcfg.Node{}
	for _, spec := range specs {
		n, err := peerNode(spec)
		if err != nil {
			log.Fatal(err)
		}
		peers[n.Key] = n
	}
	// testcontrol's node table exists once a node has registered (before
	// that UpdateNode panics): the msock peers go in before the first map
	// request is answered, so the first netmap already has them.
	var addPeers sync.Once
	s.HoldMapRequest = func(*tailcfg.MapRequest) func() {
		addPeers.Do(func() {
			for _, n := range peers {
				s.UpdateNode(n)
				log.Printf("msock peer %s: %s %s %v", n.Hostinfo.Hostname(), n.Key, n.DiscoKey, n.Addresses)
			}
		})
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /lab/msock", func(w http.ResponseWriter, r *http.Request) {
		var u msockUpdate
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&u); err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
			return
		}
		var nk key.NodePublic
		if err := nk.UnmarshalText([]byte(u.NodeKey)); err != nil {
			http.Error(w, "node_key: "+err.Error(), http.StatusBadRequest)
			return
		}
		n := s.Node(nk)
		if n == nil || peers[nk] == nil {
			http.Error(w, "no -msock node "+u.NodeKey, http.StatusNotFound)
			return
		}
		n.Endpoints = n.Endpoints[:0]
		for _, e := range u.Endpoints {
			ap, err := netip.ParseAddrPort(e)
			if err != nil {
				http.Error(w, "endpoints: "+err.Error(), http.StatusBadRequest)
				return
			}
			n.Endpoints = append(n.Endpoints, ap)
		}
		if u.HomeDERP != 0 {
			n.HomeDERP = u.HomeDERP
		}
		s.UpdateNode(n)
		log.Printf("msock peer %s: endpoints %v home DERP %d", n.Hostinfo.Hostname(), n.Endpoints, n.HomeDERP)
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/", s)
	go func() {
		// What each real node reported, rewritten when it changes.
		last := map[string]string{}
		for range time.Tick(100 * time.Millisecond) {
			for _, n := range s.AllNodes() {
				if peers[n.Key] != nil || n.DiscoKey.IsZero() {
					continue
				}
				d := describe(n)
				b, _ := json.MarshalIndent(d, "", "  ")
				if last[d.Name] == string(b) {
					continue
				}
				if err := writeAtomic(filepath.Join(*dir, "nodes", d.Name+".json"), b); err != nil {
					log.Fatal(err)
				}
				last[d.Name] = string(b)
				log.Printf("node %s: %s home DERP %d endpoints %v", d.Name, d.Address, d.HomeDERP, d.Endpoints)
			}
		}
	}()
	if err := writeAtomic(filepath.Join(*dir, "url"), []byte(base+"\n")); err != nil {
		log.Fatal(err)
	}
	if *tlsListen != "" {
		cert, err := selfSigned(*tlsListen)
		if err != nil {
			log.Fatalf("tls: %v", err)
		}
		tln, err := tls.Listen("tcp", *tlsListen, &tls.Config{Certificates: []tls.Certificate{cert}})
		if err != nil {
			log.Fatalf("tls listen: %v", err)
		}
		go func() { log.Fatal(http.Serve(tln, mux)) }()
		log.Printf("serving TLS on %s", tln.Addr())
	}
	log.Printf("serving %s", base)
	log.Fatal(http.Serve(ln, mux))
}
