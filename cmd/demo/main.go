// Command demo plays keywarden's main job on a local chain: a dev chain with its bundler, an
// embedded NATS server, the real indexer and enforcer binaries, and a scenario in which some
// session keys breach policy. It prints what keywarden caught and what it did, from ClickHouse.
// scripts/demo.sh (make demo) starts ClickHouse and builds the binaries first.
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/nats-io/nats.go"

	"github.com/keywarden/keywarden/pkg/bus"
	"github.com/keywarden/keywarden/pkg/devchain"
	"github.com/keywarden/keywarden/pkg/enforcer"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/store"
)

func main() {
	chAddr := flag.String("clickhouse", "127.0.0.1:9000", "ClickHouse native address")
	binDir := flag.String("bin", "bin", "directory holding the indexer and enforcer binaries")
	work := flag.String("work", "", "working directory (configs, NATS data); default a temp dir")
	timeout := flag.Duration("timeout", 3*time.Minute, "give up after this long")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := run(ctx, *chAddr, *binDir, *work); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func say(format string, a ...any) { fmt.Printf("\n▶ "+format+"\n", a...) }

func run(ctx context.Context, chAddr, binDir, work string) error {
	if work == "" {
		d, err := os.MkdirTemp("", "keywarden-demo")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		work = d
	}
	say("starting a dev chain (1 s blocks) with the EntryPoint v0.6, the stand-in Modular Account contracts and a local bundler")
	chain, err := devchain.Start(ctx, devchain.Options{FundedKeys: 6, BlockTime: time.Second})
	if err != nil {
		return err
	}
	defer chain.Close()
	fmt.Printf("  chain %s at %s, bundler at %s\n  Session Key Plugin %s\n", chain.ChainID, chain.HTTPURL, chain.BundlerURL,
		chain.Addresses.SessionKeyPlugin.Hex())

	say("starting an embedded NATS server with JetStream")
	srv, err := bus.Embedded(ctx, bus.EmbeddedOptions{DataDir: filepath.Join(work, "nats")})
	if err != nil {
		return err
	}
	defer srv.Shutdown(context.Background())
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return err
	}
	defer nc.Close()

	owner, enfKey, stranger := chain.Keys[1], chain.Keys[2], chain.Keys[3]
	say("creating two accounts: Alice's (owners: Alice and the enforcer) and Bob's (owner: Bob only)")
	aliceAcct, err := chain.CreateAccount(ctx, sorted(devchain.Address(owner), devchain.Address(enfKey)))
	if err != nil {
		return err
	}
	bobAcct, err := chain.CreateAccount(ctx, []common.Address{devchain.Address(stranger)})
	if err != nil {
		return err
	}
	for _, a := range []struct {
		k    *ecdsa.PrivateKey
		acct common.Address
	}{{owner, aliceAcct}, {stranger, bobAcct}} {
		if _, err := chain.InstallSessionKeyPlugin(ctx, a.k, a.acct, nil, nil, nil); err != nil {
			return fmt.Errorf("install plugin: %w", err)
		}
	}
	fmt.Printf("  Alice's account %s\n  Bob's account   %s\n  enforcer signer %s\n", aliceAcct.Hex(), bobAcct.Hex(), devchain.Address(enfKey).Hex())

	indexerCfg, enforcerCfg, err := writeConfigs(work, chain, chAddr, srv.ClientURL())
	if err != nil {
		return err
	}
	say("starting the indexer and the enforcer (bin/indexer, bin/enforcer) with configs in %s", work)
	idx, err := startProc(ctx, "indexer", filepath.Join(binDir, "indexer"), nil, "-config", indexerCfg)
	if err != nil {
		return err
	}
	defer idx.stop()
	signerEnv := "KEYWARDEN_DEMO_SIGNER=" + hex.EncodeToString(crypto.FromECDSA(enfKey)) // a dev-chain key, printed nowhere
	enf, err := startProc(ctx, "enforcer", filepath.Join(binDir, "enforcer"), []string{signerEnv}, "-config", enforcerCfg)
	if err != nil {
		return err
	}
	defer enf.stop()

	// The bot's agent: asked for a new key when its key nears expiry.
	botTag := tag("bot")
	var rotatedTo common.Address
	sub, err := enforcer.ServeAgent(nc, enforcer.AgentSubject(chain.ChainID.Uint64(), botTag, events.Address(aliceAcct)),
		func(req enforcer.RotationRequest) (events.Address, error) {
			k, _ := crypto.GenerateKey()
			rotatedTo = crypto.PubkeyToAddress(k.PublicKey)
			fmt.Printf("  [agent] the bot's agent was asked to replace %s: it answers %s\n", req.SessionKey, rotatedTo.Hex())
			return events.Address(rotatedTo), nil
		})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()

	hdr, err := chain.Client().HeaderByNumber(ctx, nil)
	if err != nil {
		return err
	}
	now := hdr.Time
	target := chain.Addresses.TestTarget
	ping := events.SelectorOf(crypto.Keccak256([]byte("ping()")))
	scoped := []events.Update{
		events.UpdateAccessListAddressEntry{Target: events.Address(target), IsOnList: true, CheckSelectors: true},
		events.UpdateAccessListFunctionEntry{Target: events.Address(target), Function: ping, IsOnList: true},
		events.SetNativeTokenSpendLimit{Limit: events.U256From64(5e17)},
	}
	keys := map[string]common.Address{}
	add := func(name string, acct common.Address, signer *ecdsa.PrivateKey, tg [32]byte, perms []events.Update, what string) error {
		k, _ := crypto.GenerateKey()
		addr := crypto.PubkeyToAddress(k.PublicKey)
		keys[name] = addr
		fmt.Printf("  + %-9s %s  %s\n", name, addr.Hex(), what)
		_, err := chain.AddKey(ctx, signer, acct, addr, tg, perms)
		return err
	}
	say("Alice's app adds session keys")
	steps := []error{
		add("trader", aliceAcct, owner, tag("trader"), append(append([]events.Update{}, scoped...),
			events.UpdateTimeRange{ValidUntil: now + 72*3600}), "one contract, one function, 0.5 ETH, 3 days: compliant"),
		add("wildcard", aliceAcct, owner, tag("wildcard"), []events.Update{events.SetAccessListType{Type: events.AccessAllowAll},
			events.SetNativeTokenSpendLimit{Limit: events.MaxU256}}, "ALLOW_ALL access, unlimited ETH, no expiry: can do anything forever"),
		add("bot", aliceAcct, owner, botTag, append(append([]events.Update{}, scoped...),
			events.UpdateTimeRange{ValidUntil: now + 6*3600}), "well scoped, but expires in 6 hours"),
		add("spender", aliceAcct, owner, tag("spender"), []events.Update{
			events.UpdateAccessListAddressEntry{Target: events.Address(target), IsOnList: true},
			events.SetNativeTokenSpendLimit{Limit: events.U256From64(5e18)}, events.UpdateTimeRange{ValidUntil: now + 72*3600}},
			"may send 5 ETH (the cap is 1 ETH)"),
	}
	say("Bob, whose account the enforcer does not own, adds a wildcard key too")
	steps = append(steps, add("bobs-key", bobAcct, stranger, [32]byte{}, []events.Update{events.SetAccessListType{Type: events.AccessAllowAll}},
		"ALLOW_ALL on an account the enforcer cannot act on"))
	for _, err := range steps {
		if err != nil {
			return err
		}
	}
	say("someone calls the plugin directly, naming themselves as the account (no PluginInstalled: unverified)")
	k, _ := crypto.GenerateKey()
	keys["spoof"] = crypto.PubkeyToAddress(k.PublicKey)
	data, err := chain.AddSessionKeyCall(keys["spoof"], [32]byte{}, []events.Update{events.SetAccessListType{Type: events.AccessAllowAll}})
	if err != nil {
		return err
	}
	plugin := chain.Addresses.SessionKeyPlugin
	if _, err := chain.Transact(ctx, devchain.TxRequest{From: chain.Keys[4], To: &plugin, Data: data}); err != nil {
		return fmt.Errorf("spoofed add: %w", err)
	}

	st, err := store.Open(ctx, store.Options{Addrs: []string{chAddr}, Database: "keywarden"})
	if err != nil {
		return err
	}
	defer st.Close()
	say("waiting for the enforcer to act (indexer → ClickHouse + NATS → enforcer → bundler → chain → indexer)")
	want := map[string]string{"no-allow-all": "included", "native-cap": "included", "expiring-soon": "included"}
	if err := waitActions(ctx, st, want); err != nil {
		return err
	}
	time.Sleep(3 * time.Second) // let the indexer fold the enforcer's own transactions
	return report(ctx, st, chain, keys, rotatedTo, aliceAcct, bobAcct)
}

func tag(s string) [32]byte { var t [32]byte; copy(t[:], s); return t }

func sorted(as ...common.Address) []common.Address {
	sort.Slice(as, func(i, j int) bool { return as[i].Cmp(as[j]) < 0 })
	return as
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeConfigs(dir string, chain *devchain.Chain, chAddr, natsURL string) (string, string, error) {
	a := chain.Addresses
	idx := fmt.Sprintf(`chains:
  - id: %d
    name: devchain
    rpc_urls: [%q]
    ws_url: %q
    session_key_plugins: [%q]
    multi_owner_plugin: %q
    entry_point: %q
    start_block: 0
    poll_interval: 300ms
    reorg_window: 64
clickhouse: {addrs: [%q], database: keywarden}
nats: {url: %q}
http: {listen: "127.0.0.1:%d"}
log: {level: info, format: json}
`, chain.ChainID.Uint64(), chain.HTTPURL, chain.WSURL, a.SessionKeyPlugin.Hex(), a.MultiOwnerPlugin.Hex(), a.EntryPoint.Hex(),
		chAddr, natsURL, freePort())
	enf := fmt.Sprintf(`mode: enforce
policies: policies/default.yaml
instance: demo-enforcer
signer: env:KEYWARDEN_DEMO_SIGNER
chains:
  - id: %d
    rpc_url: %q
    bundler_url: %q
    plugins: [%q]
    multi_owner: %q
    entry_point: %q
clickhouse: {addrs: [%q], database: keywarden}
nats: {url: %q}
rotation: {agent_timeout: 5s}
retry: {attempts: 4, backoff: 500ms, receipt_timeout: 30s}
http: {listen: "127.0.0.1:%d"}
log: {level: info, format: json}
`, chain.ChainID.Uint64(), chain.HTTPURL, chain.BundlerURL, a.SessionKeyPlugin.Hex(), a.MultiOwnerPlugin.Hex(), a.EntryPoint.Hex(),
		chAddr, natsURL, freePort())
	ip, ep := filepath.Join(dir, "indexer.yaml"), filepath.Join(dir, "enforcer.yaml")
	if err := os.WriteFile(ip, []byte(idx), 0o600); err != nil {
		return "", "", err
	}
	return ip, ep, os.WriteFile(ep, []byte(enf), 0o600)
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan error
}

// startProc runs a binary; its JSON log lines are summarised on stdout (actions and errors).
func startProc(ctx context.Context, name, path string, env []string, args ...string) (*proc, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = os.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan error, 1)}
	go summarise(name, out)
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

func summarise(name string, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, `"message":"action"`), strings.Contains(line, `"level":"error"`),
			strings.Contains(line, `"level":"warn"`), strings.Contains(line, `"level":"fatal"`):
			fmt.Printf("  [%s] %s\n", name, line)
		}
	}
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		fmt.Printf("  %s stopped on SIGTERM, exit code %d\n", p.name, code)
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		fmt.Printf("  %s did not stop within 15 s: killed\n", p.name)
	}
}

func waitActions(ctx context.Context, st *store.Store, want map[string]string) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		got := map[string]string{}
		rows, err := st.Conn().Query(ctx, "SELECT policy_id, argMax(outcome, version) FROM actions GROUP BY action_id, policy_id")
		if err == nil {
			for rows.Next() {
				var p, o string
				if rows.Scan(&p, &o) == nil && o == want[p] {
					got[p] = o
				}
			}
			rows.Close()
		}
		if len(got) == len(want) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the enforcer did not finish in time (done: %v, want: %v)", got, want)
		case <-tick.C:
		}
	}
}

func report(ctx context.Context, st *store.Store, chain *devchain.Chain, keys map[string]common.Address, rotatedTo, alice, bob common.Address) error {
	names := map[string]string{}
	for n, a := range keys {
		names[a.Hex()] = n
	}
	if rotatedTo != (common.Address{}) {
		names[rotatedTo.Hex()] = "bot (new)"
	}
	name := func(a string) string {
		if n, ok := names[a]; ok {
			return n
		}
		return a[:10] + "…"
	}
	say("key states in ClickHouse (key_state FINAL)")
	ks, err := st.KeyStates(ctx, store.KeyFilter{ChainID: chain.ChainID.Uint64(), IncludeRetracted: true})
	if err != nil {
		return err
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].AddedBlock < ks[j].AddedBlock })
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  KEY\tACCOUNT\tSTATUS\tVERIFIED\tACCESS\tNATIVE LIMIT\tVALID UNTIL")
	for _, k := range ks {
		native := "unlimited"
		if k.Permissions.NativeLimit.HasLimit {
			native = weiToEth(k.Permissions.NativeLimit.Limit.Big()) + " ETH"
		}
		until := "never"
		if k.Permissions.ValidUntil != 0 {
			until = time.Unix(int64(k.Permissions.ValidUntil), 0).UTC().Format("2006-01-02 15:04")
		}
		acct := k.Account.Hex()[:10] + "… (spoofer)"
		switch k.Account.Common() {
		case alice:
			acct = "Alice"
		case bob:
			acct = "Bob"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%v\t%s\t%s\t%s\n", name(k.SessionKey.Hex()), acct, k.Status, k.Verified,
			k.Permissions.AccessControlType, native, until)
	}
	tw.Flush()

	say("verdicts and actions (verdicts, actions FINAL)")
	rows, err := st.Conn().Query(ctx, `SELECT v.policy_id, v.severity, v.session_key, a.action, a.outcome, a.error
		FROM (SELECT action_id, policy_id, severity, session_key FROM verdicts FINAL) AS v
		ANY LEFT JOIN (SELECT action_id, argMax(action, version) AS action, argMax(outcome, version) AS outcome,
			argMax(error, version) AS error FROM actions GROUP BY action_id) AS a USING action_id
		ORDER BY v.session_key, v.policy_id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	tw = tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  KEY\tPOLICY\tSEVERITY\tACTION\tOUTCOME\tDETAIL")
	for rows.Next() {
		var pol, sev, key, act, out, detail string
		if err := rows.Scan(&pol, &sev, &key, &act, &out, &detail); err != nil {
			return err
		}
		if len(detail) > 70 {
			detail = detail[:70] + "…"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", name(key), pol, sev, act, out, detail)
	}
	tw.Flush()
	if err := rows.Err(); err != nil {
		return err
	}
	say("done: the wildcard key was removed, the expiring bot key rotated to a fresh key, the big spender restricted.\n" +
		"  Bob's key only raised alerts: the enforcer is not an owner of Bob's account.\n" +
		"  The spoofed key is stored unverified (no PluginInstalled on that \"account\") and never acted on.")
	return nil
}

func weiToEth(w *big.Int) string {
	r := new(big.Rat).SetFrac(w, big.NewInt(1e18))
	return strings.TrimRight(strings.TrimRight(r.FloatString(4), "0"), ".")
}
