// Command testcluster runs a real kube-apiserver (the production command, app.NewAPIServerCommand)
// on top of an embedded etcd, bound to 127.0.0.1 only. It is test infrastructure for
// lifecycle-manager: the TypeScript harness spawns it, waits for the line "READY <kubeconfig>",
// and stops it with SIGTERM (it then shuts the apiserver and etcd down and exits).
//
// State (certificates, tokens, etcd data, kubeconfig) lives in --dir. Starting again with the same
// --dir and --port resumes the same cluster, which is how tests restart the apiserver mid-drain.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/client-go/util/cert"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

// Static bearer tokens. "admin" is cluster-admin (system:masters). The service identity has no
// permissions until a test binds the product's own ClusterRole to it, so RBAC is exercised for real.
// "limited" has no permissions at all; "partial" is for tests that bind it a role with one verb missing.
const tokens = `admin-token,admin,admin,"system:masters"
lifecycle-manager-token,system:serviceaccount:lifecycle-manager:lifecycle-manager,lifecycle-manager,"system:serviceaccounts,system:serviceaccounts:lifecycle-manager,system:authenticated"
limited-token,system:serviceaccount:lifecycle-manager:limited,limited,"system:serviceaccounts,system:serviceaccounts:lifecycle-manager,system:authenticated"
partial-token,system:serviceaccount:lifecycle-manager:partial,partial,"system:serviceaccounts,system:serviceaccounts:lifecycle-manager,system:authenticated"
`

func main() {
	fs := flag.NewFlagSet("testcluster", flag.ExitOnError)
	dir := fs.String("dir", "", "state directory (certificates, etcd data, kubeconfig); reused when it exists")
	port := fs.Int("port", 0, "apiserver secure port on 127.0.0.1; 0 picks a free port")
	readyTimeout := fs.Duration("ready-timeout", 3*time.Minute, "how long to wait for /readyz")
	check(fs.Parse(os.Args[1:]))
	if *dir == "" {
		fail(fmt.Errorf("--dir is required"))
	}
	check(os.MkdirAll(*dir, 0o700))
	if *port == 0 {
		*port = freePort()
	}
	p := func(n string) string { return filepath.Join(*dir, n) }

	etcd := startEtcd(p("etcd"))
	ca := ensureCredentials(p)

	args := []string{
		"", // etcd URL, set below
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(*port), "--cert-dir=" + *dir,
		"--tls-cert-file=" + p("serving.crt"), "--tls-private-key-file=" + p("serving.key"),
		"--token-auth-file=" + p("tokens.csv"), "--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p("sa.key"), "--service-account-signing-key-file=" + p("sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24", "--allow-privileged=true",
		"--disable-admission-plugins=ServiceAccount", "--endpoint-reconciler-type=none",
		"--profiling=false", "--enable-priority-and-fairness=false",
	}
	args[0] = "--etcd-servers=http://" + etcd.Clients[0].Addr().String()
	args = append(args, fs.Args()...)

	go func() {
		waitReady(*port, *readyTimeout)
		write(p("kubeconfig"), kubeconfig(*port, ca))
		fmt.Printf("READY %s\n", p("kubeconfig"))
	}()

	command := app.NewAPIServerCommand()
	command.SetArgs(args)
	code := cli.Run(command)
	etcd.Close()
	os.Exit(code)
}

func startEtcd(dataDir string) *embed.Etcd {
	ec := embed.NewConfig()
	ec.Dir = dataDir
	cu := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(freePort())}
	pu := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(freePort())}
	ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	ec.UnsafeNoFsync = true
	ec.LogLevel = "error"
	ec.LogOutputs = []string{"stderr"}
	if _, err := os.Stat(filepath.Join(dataDir, "member")); err == nil {
		ec.ClusterState = embed.ClusterStateFlagExisting
	}
	e, err := embed.StartEtcd(ec)
	check(err)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		fail(fmt.Errorf("etcd not ready after 60s"))
	}
	return e
}

// ensureCredentials writes the serving certificate, the service-account key and the token file
// unless they already exist, and returns the CA bundle clients should trust.
func ensureCredentials(p func(string) string) []byte {
	if _, err := os.Stat(p("serving.crt")); err != nil {
		crt, key, err := cert.GenerateSelfSignedCertKey("127.0.0.1", []net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"})
		check(err)
		write(p("serving.crt"), crt)
		write(p("serving.key"), key)
		sa, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		check(err)
		der, err := x509.MarshalECPrivateKey(sa)
		check(err)
		write(p("sa.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
		write(p("tokens.csv"), []byte(tokens))
	}
	crt, err := os.ReadFile(p("serving.crt"))
	check(err)
	return crt
}

func waitReady(port int, timeout time.Duration) {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("https://127.0.0.1:%d/readyz", port), nil)
		req.Header.Set("Authorization", "Bearer admin-token")
		if r, err := c.Do(req); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return
			}
		}
	}
	fail(fmt.Errorf("kube-apiserver not ready after %s", timeout))
}

func kubeconfig(port int, ca []byte) []byte {
	return []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "https://127.0.0.1:%d", certificate-authority-data: "%s"}
users:
- {name: admin, user: {token: admin-token}}
- {name: lifecycle-manager, user: {token: lifecycle-manager-token}}
- {name: limited, user: {token: limited-token}}
- {name: partial, user: {token: partial-token}}
contexts:
- {name: admin, context: {cluster: test, user: admin}}
- {name: lifecycle-manager, context: {cluster: test, user: lifecycle-manager}}
- {name: limited, context: {cluster: test, user: limited}}
- {name: partial, context: {cluster: test, user: partial}}
current-context: admin
`, port, base64.StdEncoding.EncodeToString(ca)))
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func write(f string, b []byte) { check(os.WriteFile(f, b, 0o600)) }
func check(err error) {
	if err != nil {
		fail(err)
	}
}
func fail(err error) { fmt.Fprintln(os.Stderr, "testcluster:", err); os.Exit(1) }
