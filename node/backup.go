package node

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"time"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/repository/store"
	"github.com/fsenet/fsenet/telemed"
)

// A region's backup is a directory of files: the replicated state (as
// /v1/snapshot streams it), the region's document store, the region's
// other stores (the telemedicine schedule and telemonitoring; badger's
// backup format, all of them) and a manifest naming each with its
// checksum. The node streams it as multipart/mixed, one part per file in
// this order (the other stores by name), the manifest last (its
// checksums are known only then); fsectl backup save writes the parts
// into the directory, fsenode restore reads it. Format 1 had no other
// stores.
const (
	BackupFormat         = "fsenet-region-backup/2"
	BackupStateFile      = "state.snap"
	BackupRepositoryFile = "repository.badger"
	BackupManifestFile   = "manifest.json"
)

// backupFormats are the formats a restore reads.
var backupFormats = []string{"fsenet-region-backup/1", BackupFormat}

// StoreDirs are the directories of the region's stores other than the
// document store and the replicated state, by the name of their file in
// a backup (relative paths in the configuration are under data_dir).
func StoreDirs(cfg Config) map[string]string {
	return map[string]string{
		telemed.ScheduleBackupFile:   dataPath(cfg, "telemed"),
		telemed.MonitoringBackupFile: dataPath(cfg, "telemonitoring"),
	}
}

// storeBackup is a module's stores in a backup, by the name of their
// file: each function writes a consistent copy of its whole store.
type storeBackup interface {
	BackupStores() map[string]func(io.Writer) error
}

// BackupManifest describes a region's backup.
type BackupManifest struct {
	Format string `json:"format"`
	Region string `json:"region"`
	// Index, Term and Digest are the replicated state's: the log entry it
	// reflects and the state digest there (as /v1/cluster shows it).
	Index   uint64    `json:"index"`
	Term    uint64    `json:"term"`
	Digest  string    `json:"digest"`
	Created time.Time `json:"created"`
	// NodeVersion is the version of the node that made it.
	NodeVersion string `json:"node_version"`
	// Files are the backup's other files by name.
	Files map[string]BackupFile `json:"files"`
	// Repository counts what the document store's part holds.
	Repository store.BackupStats `json:"repository"`
}

// BackupFile is one file of a backup.
type BackupFile struct {
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// BackupCheck is the answer of /v1/backup/check: the region's documents
// compared with the index (store.CheckReport), at a state index.
type BackupCheck struct {
	Region string `json:"region"`
	Index  uint64 `json:"index"`
	store.CheckReport
}

// documentBackup is the repository module's part in a backup.
type documentBackup interface {
	OpenBackup(during func() error) (*store.Backup, error)
}

// openBackup opens the document store's view and, while no submission
// can commit, a view of the replicated state that includes every write
// acknowledged before: every index entry of this region in the state has
// its document in the store's view, and every document the store's view
// holds as committed is in the state (see store.OpenBackup).
func (n *Node) openBackup(r *http.Request) (*store.Backup, *consensus.SnapshotView, error) {
	var repo documentBackup
	for _, m := range n.modules {
		if d, ok := m.(documentBackup); ok {
			repo = d
		}
	}
	if repo == nil || n.cons == nil {
		return nil, nil, httpapi.E(httpapi.ErrUnavailable, "the node's document store is not running")
	}
	var view *consensus.SnapshotView
	b, err := repo.OpenBackup(func() error {
		var err error
		view, err = n.cons.OpenSnapshot(r.Context(), consensus.Strong)
		return err
	})
	if err != nil {
		return nil, nil, httpapi.Wrap(httpapi.ErrUnavailable, "the replicated state could not be read through the leader; retry when the federation has one", err)
	}
	return b, view, nil
}

// handleBackup streams the region's backup.
func (n *Node) handleBackup(w http.ResponseWriter, r *http.Request) {
	if !authorize(w, r, index.ActBackup, index.Target{Region: n.cfg.Region}) {
		return
	}
	b, view, err := n.openBackup(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	defer b.Close()
	defer view.Release()

	mw := multipart.NewWriter(w)
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	w.Header().Set("Fsenet-Snapshot-Index", strconv.FormatUint(view.Index(), 10))
	w.WriteHeader(http.StatusOK)
	man := BackupManifest{Format: BackupFormat, Region: n.cfg.Region, Index: view.Index(), Term: view.Term(),
		Digest: view.Digest(), Created: time.Now().UTC(), NodeVersion: federation.BuildInfo().Version,
		Files: map[string]BackupFile{}}
	fail := func(what string, err error) {
		// Headers are gone; cutting the stream short leaves the
		// multipart body without its closing boundary and manifest,
		// which the client refuses.
		httpapi.Log(r).Error("backup stream failed", "part", what, "index", view.Index(), "err", err)
		panic(http.ErrAbortHandler)
	}
	write := func(name string, fn func(io.Writer) error) {
		pw, err := mw.CreatePart(partHeader(name, "application/octet-stream"))
		if err != nil {
			fail(name, err)
		}
		h := sha256.New()
		cw := &hashCounter{w: pw, h: h}
		if err := fn(cw); err != nil {
			fail(name, err)
		}
		man.Files[name] = BackupFile{SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: cw.n}
	}
	write(BackupStateFile, func(w io.Writer) error { _, err := view.WriteTo(w); return err })
	write(BackupRepositoryFile, func(w io.Writer) error {
		var err error
		man.Repository, err = b.Write(w)
		return err
	})
	// The other stores as they are now: what they hold refers to the
	// replicated state (services, patients) without being held with it.
	for _, m := range n.modules {
		if sb, ok := m.(storeBackup); ok {
			stores := sb.BackupStores()
			for _, name := range slices.Sorted(maps.Keys(stores)) {
				write(name, stores[name])
			}
		}
	}
	mb, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		fail(BackupManifestFile, err)
	}
	pw, err := mw.CreatePart(partHeader(BackupManifestFile, "application/json"))
	if err == nil {
		_, err = pw.Write(append(mb, '\n'))
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		fail(BackupManifestFile, err)
	}
	p, _ := PrincipalFrom(r.Context())
	httpapi.Log(r).Info("backup served", "index", man.Index, "documents", man.Repository.Documents,
		"contents", man.Repository.Contents, "outbox", man.Repository.Outbox,
		"state_bytes", man.Files[BackupStateFile].Bytes, "repository_bytes", man.Files[BackupRepositoryFile].Bytes,
		"by", p.OrganizationID, "issuer", p.Issuer)
}

// handleBackupCheck compares the region's documents with the replicated
// index: the index entries of this region whose document the store does
// not hold (after a restore there should be none), and the documents the
// store holds that the index does not know.
func (n *Node) handleBackupCheck(w http.ResponseWriter, r *http.Request) {
	if !authorize(w, r, index.ActBackup, index.Target{Region: n.cfg.Region}) {
		return
	}
	b, view, err := n.openBackup(r)
	if err != nil {
		httpapi.Fail(w, r, err)
		return
	}
	defer b.Close()
	defer view.Release()
	var rep store.CheckReport
	err = view.Read(func(rd consensus.Reader) error {
		var err error
		rep, err = b.Check(rd, n.cfg.Region)
		return err
	})
	if err != nil {
		httpapi.Fail(w, r, httpapi.Wrap(httpapi.ErrUnavailable, "the check could not read the store or the index", err))
		return
	}
	if len(rep.Missing) > 0 {
		httpapi.Log(r).Warn("index entries of this region without their document", "missing", len(rep.Missing), "index", view.Index())
	}
	httpapi.JSON(w, http.StatusOK, BackupCheck{Region: n.cfg.Region, Index: view.Index(), CheckReport: rep})
}

func partHeader(name, ct string) textproto.MIMEHeader {
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename=%q`, name))
	return h
}

// hashCounter writes to w, hashing and counting what went through.
type hashCounter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *hashCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// ReadBackupManifest reads and checks the manifest of a backup directory's
// manifest file: its format, and that it names both files.
func ReadBackupManifest(b []byte) (BackupManifest, error) {
	var m BackupManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: manifest: %v", ErrBadBackup, err)
	}
	if !slices.Contains(backupFormats, m.Format) {
		return m, fmt.Errorf("%w: manifest format %q, want one of %q", ErrBadBackup, m.Format, backupFormats)
	}
	stores := StoreDirs(Config{})
	for name := range m.Files {
		if _, ok := stores[name]; !ok && name != BackupStateFile && name != BackupRepositoryFile {
			return m, fmt.Errorf("%w: the manifest names %q, which is no file of a backup", ErrBadBackup, name)
		}
	}
	for _, f := range []string{BackupStateFile, BackupRepositoryFile} {
		if fi, ok := m.Files[f]; !ok || len(fi.SHA256) != 64 {
			return m, fmt.Errorf("%w: the manifest has no checksum of %s", ErrBadBackup, f)
		}
	}
	return m, nil
}

// ErrBadBackup is a backup that is not whole or not fsenet's.
var ErrBadBackup = errors.New("not a whole fsenet region backup")
