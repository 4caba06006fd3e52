// Package labfiles reads the files the interop tests hand our Go programs:
// a DERP map in Tailscale's JSON and the lab's CA certificate.
package labfiles

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"

	"tailscale.com/tailcfg"
)

// DERPMap reads a tailcfg.DERPMap from the JSON file at path.
func DERPMap(path string) (*tailcfg.DERPMap, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var dm tailcfg.DERPMap
	if err := json.Unmarshal(b, &dm); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &dm, nil
}

// CertPool returns a pool of the PEM certificates in the file at path; a
// file without one is an error.
func CertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificates", path)
	}
	return pool, nil
}
