package metrics

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// selfSigned writes a fresh self-signed certificate for 127.0.0.1 and its key
// into dir, and returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "tcptrack test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

// TestTLSBasicAuth serves through a --web.config.file with TLS and basic
// auth and checks who gets the metrics and the counts.
func TestTLSBasicAuth(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	const user, password = "prometheus", "correct horse battery staple"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webConfig, fmt.Appendf(nil, `tls_server_config:
  cert_file: %s
  key_file: %s
basic_auth_users:
  %s: %s
`, certFile, keyFile, user, hash), 0o600); err != nil {
		t.Fatal(err)
	}

	c := NewCollector()
	c.Publish(&Snapshot{Tracker: stateStats(t, map[string]int{"established": 5, "close_wait": 2})})
	// Two addresses: exporter-toolkit's own ServeMultiple races on the
	// shared server there (go test -race shows it); Serve must not.
	addrs := startServeN(t, WebConfig{ConfigFile: webConfig}, c, 2)
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}

	tests := []struct {
		name           string
		path           string
		user, password string // no Authorization header when user is empty
		wantStatus     int
		want           string // part of the body
	}{
		{"no credentials", "/metrics", "", "", http.StatusUnauthorized, ""},
		{"wrong password", "/metrics", user, "Tr0ub4dor&3", http.StatusUnauthorized, ""},
		{"unknown user", "/metrics", "admin", password, http.StatusUnauthorized, ""},
		{"counts without credentials", "/counts", "", "", http.StatusUnauthorized, ""},
		{"metrics", "/metrics", user, password, http.StatusOK, `tcptrack_connection_states{state="established"} 5` + "\n"},
		{"counts", "/counts", user, password, http.StatusOK, "ESTABLISHED 5\nCLOSE_WAIT 2\n"},
	}
	for i, addr := range addrs {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("address %d/%s", i+1, tt.name), func(t *testing.T) {
				req, err := http.NewRequest(http.MethodGet, "https://"+addr+tt.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if tt.user != "" {
					req.SetBasicAuth(tt.user, tt.password)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tt.wantStatus {
					t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
				}
				if tt.wantStatus != http.StatusOK && strings.Contains(string(body), "tcptrack_") {
					t.Errorf("refused, yet the body holds metrics:\n%s", body)
				}
				if !strings.Contains(string(body), tt.want) {
					t.Errorf("body:\n%s\nwant it to contain:\n%s", body, tt.want)
				}
			})
		}
	}
	addr := addrs[0]

	t.Run("plain HTTP on the TLS port", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(user, password)
		resp, err := testClient.Do(req)
		if err != nil {
			return // refused outright: fine
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		// net/http answers a plain request on a TLS listener with 400.
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(body), "tcptrack_") {
			t.Errorf("plain HTTP got status %d, want %d and no metrics; body:\n%s",
				resp.StatusCode, http.StatusBadRequest, body)
		}
	})

	t.Run("client that does not trust the certificate", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(user, password)
		resp, err := testClient.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatal("a client with the system roots accepted the self-signed certificate")
		}
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Errorf("got %v, want an unknown-authority error: the server must present the configured certificate", err)
		}
	})
}
