package federation

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// LoadOrCreateIdentity reads the node's Ed25519 private key from path, or
// creates one there (mode 0600, parent directory 0700) when the file does not
// exist yet. The file holds the key in libp2p's protobuf encoding. A file that
// exists but cannot be parsed, or holds a key of another type, is an error:
// silently replacing it would change the node's peer ID and cut it off from the
// federation.
func LoadOrCreateIdentity(path string) (crypto.PrivKey, error) {
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, err := crypto.UnmarshalPrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("identity %s: not a libp2p private key: %w", path, err)
		}
		if key.Type() != crypto.Ed25519 {
			return nil, fmt.Errorf("identity %s: key type %s, want Ed25519", path, key.Type())
		}
		return key, nil
	case errors.Is(err, fs.ErrNotExist):
		return createIdentity(path)
	default:
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
}

func createIdentity(path string) (crypto.PrivKey, error) {
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, fmt.Errorf("generate identity: %w", err)
	}
	data, err := crypto.MarshalPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode identity: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	// Write to a temporary file and rename, so a crash never leaves a
	// half-written key that would fail to load on the next start.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".identity-*")
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	// Link rather than rename: if another process created the key meanwhile,
	// keep theirs and fail loudly instead of overwriting it.
	if err := os.Link(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	return key, nil
}

// LoadIdentity reads the node's private key like LoadOrCreateIdentity but
// never creates one: a missing file is an error wrapping fs.ErrNotExist.
func LoadIdentity(path string) (crypto.PrivKey, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	return LoadOrCreateIdentity(path)
}
