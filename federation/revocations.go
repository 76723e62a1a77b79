package federation

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
)

// RevocationList is the revocations a node (or the authority) has seen,
// kept in a file of its own outside the replicated state: one
// authority-signed revocation per line, appended and never rewritten. A
// restore of the replicated state from before a revocation, or a lost data
// directory, cannot undo what the list holds: the node refuses those peers
// whatever the state says and puts the revocations back into the state.
//
// The file is the same on a node and at the authority, so the authority's
// list can be given to a node as it is.
type RevocationList struct {
	path      string
	authority ed25519.PublicKey

	mu     sync.Mutex
	byPeer map[peer.ID]SignedRevocation
}

// SignedRevocation is a verified revocation and the token it came in.
type SignedRevocation struct {
	Revocation
	Token string
}

// ErrRevoked is returned for a peer whose membership the authority revoked.
var ErrRevoked = errors.New("federation: peer revoked")

// maxRevocationLine bounds one line of a revocation list.
const maxRevocationLine = 16 << 10

// OpenRevocationList reads the list at path (absent: empty) and checks
// every line against the authority's key. A line that is not one of the
// authority's revocations is an error naming it: the file is the node's
// memory of who was revoked, and a damaged one must be looked at, not
// half-read.
func OpenRevocationList(path string, authority ed25519.PublicKey) (*RevocationList, error) {
	l := &RevocationList{path: path, authority: authority, byPeer: map[peer.ID]SignedRevocation{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxRevocationLine)
	for line := 1; sc.Scan(); line++ {
		tok := strings.TrimSpace(sc.Text())
		if tok == "" || strings.HasPrefix(tok, "#") {
			continue
		}
		r, err := VerifyRevocation(tok, authority)
		if err != nil {
			return nil, fmt.Errorf("revocation list %s line %d: %w", path, line, err)
		}
		l.byPeer[r.Peer] = SignedRevocation{Revocation: r, Token: tok}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("revocation list %s: %w", path, err)
	}
	return l, nil
}

// Add verifies a revocation and, if the list does not hold its peer yet,
// appends it to the file (synced before Add returns). It reports whether
// the revocation was new.
func (l *RevocationList) Add(token string) (SignedRevocation, bool, error) {
	token = strings.TrimSpace(token)
	r, err := VerifyRevocation(token, l.authority)
	if err != nil {
		return SignedRevocation{}, false, err
	}
	s := SignedRevocation{Revocation: r, Token: token}
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.byPeer[r.Peer]; ok {
		return old, false, nil
	}
	if err := l.append(token); err != nil {
		return s, false, err
	}
	l.byPeer[r.Peer] = s
	return s, true, nil
}

func (l *RevocationList) append(token string) error {
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return fmt.Errorf("revocation list: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("revocation list: %w", err)
	}
	_, werr := f.WriteString(token + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("revocation list %s: %w", l.path, err)
	}
	return nil
}

// Has reports whether p is revoked, and the revocation.
func (l *RevocationList) Has(p peer.ID) (SignedRevocation, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.byPeer[p]
	return r, ok
}

// All returns every revocation, sorted by peer.
func (l *RevocationList) All() []SignedRevocation {
	l.mu.Lock()
	out := make([]SignedRevocation, 0, len(l.byPeer))
	for _, r := range l.byPeer {
		out = append(out, r)
	}
	l.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Peer < out[j].Peer })
	return out
}

// Peers returns the revoked peers.
func (l *RevocationList) Peers() []peer.ID {
	all := l.All()
	out := make([]peer.ID, len(all))
	for i, r := range all {
		out[i] = r.Peer
	}
	return out
}
