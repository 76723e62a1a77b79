package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// BenchmarkDemoColdStart measures "fsenode demo" (binaries built) from
// its start to the line saying the whole federation is ready.
//
//	go test ./cmd/fsenode -run '^$' -bench DemoColdStart -benchtime 3x -v
func BenchmarkDemoColdStart(b *testing.B) {
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		start := time.Now()
		cmd := exec.Command(fsenodeBin, "demo", "--dir", dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		ready := false
		for sc.Scan() {
			if strings.Contains(sc.Text(), "federation ready") {
				ready = true
				break
			}
		}
		took := time.Since(start)
		_ = cmd.Process.Signal(os.Interrupt)
		go io.Copy(io.Discard, out)
		_ = cmd.Wait()
		if !ready {
			b.Fatal("the demo never said it was ready")
		}
		b.Logf("run %d: federation of 3 regions ready in %v", i+1, took.Round(time.Millisecond))
		b.ReportMetric(took.Seconds(), "s/ready")
	}
}

// BenchmarkProcessRestartOnLargeState measures a real fsenode process
// restarted on 1M records of replicated state: three regions share a
// state grown to 1M extra records (restored from a snapshot, then
// replicated to the others by snapshot), a follower is stopped and started
// again, and the time from its start to its "ready" line is measured. It
// also reports the idle resident memory of each process. Each iteration
// restarts three times; run it with -benchtime 1x.
//
//	go test ./cmd/fsenode -run '^$' -bench ProcessRestartOnLargeState -benchtime 1x -v -timeout 30m
func BenchmarkProcessRestartOnLargeState(b *testing.B) {
	records := 1_000_000
	if s := os.Getenv("FSENET_BENCH_RECORDS"); s != "" {
		records, _ = strconv.Atoi(s)
	}
	base := b.TempDir()
	if d := os.Getenv("FSENET_BENCH_DIR"); d != "" {
		base = filepath.Join(d, time.Now().Format("150405.000")) // kept, with each region's node.log
	}
	bt := benchT{b}
	a := newAuthority(bt.T(), base)
	lom := a.region(base, "030", "voter")
	cam := a.region(base, "150", "voter")
	pug := a.region(base, "160", "voter")
	procs := []*proc{lom, cam, pug}
	defer func() {
		for _, p := range procs {
			p.terminate(bt.T())
		}
	}()
	lom.start(bt.T(), "--raft.bootstrap=true")
	cam.start(bt.T(), "--p2p.join", lom.url())
	pug.start(bt.T(), "--p2p.join", lom.url())
	waitFor(bt.T(), 60*time.Second, "three regions ready", func() bool { return lom.ready() && cam.ready() && pug.ready() })
	auth := a.token()
	waitFor(bt.T(), 30*time.Second, "three voters", func() bool {
		cv, err := clusterOf(bt.T(), lom, auth)
		return err == nil && fmt.Sprint(cv.raft()) == "map[030:voter 150:voter 160:voter]"
	})
	small := filepath.Join(base, "small.snap")
	if out, code := ctl(bt.T(), lom.url(), auth, "snapshot", "save", small); code != 0 {
		b.Fatalf("snapshot save: %s", out)
	}
	for _, p := range procs {
		p.terminate(bt.T())
	}
	big := filepath.Join(base, "big.snap")
	if err := growSnapshot(small, big, records, 100); err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(big)
	b.Logf("snapshot with %d extra records of 100 bytes: %d MiB compressed", records, fi.Size()>>20)
	for _, p := range procs {
		if err := os.RemoveAll(filepath.Join(p.dir, "consensus")); err != nil {
			b.Fatal(err)
		}
	}
	run(bt.T(), "restore", "--config", filepath.Join(lom.dir, "region.toml"), big)
	// Ordinary snapshot settings from here on.
	plain := []string{"--raft.snapshot_interval", "30s", "--raft.snapshot_threshold", "16384", "--raft.trailing_logs", "20480"}
	lom.start(bt.T(), plain...)
	cam.start(bt.T(), append(plain, "--p2p.join", lom.url())...)
	pug.start(bt.T(), append(plain, "--p2p.join", lom.url())...)
	waitFor(bt.T(), 10*time.Minute, "three regions ready on the large state", func() bool { return lom.ready() && cam.ready() && pug.ready() })
	time.Sleep(3 * time.Second)
	for _, p := range procs {
		b.Logf("idle RSS of %s on the large state: %d MiB (Go heap in use %s, idle %s, released %s)", p.code, rssMiB(p),
			metric(bt.T(), p, "go_memstats_heap_inuse_bytes"), metric(bt.T(), p, "go_memstats_heap_idle_bytes"), metric(bt.T(), p, "go_memstats_heap_released_bytes"))
	}
	b.ResetTimer()
	for i := 0; i < 3*b.N; i++ {
		victim := pug
		if pug.status().State == "Leader" {
			victim = cam
		}
		victim.terminate(bt.T())
		start := time.Now()
		victim.start(bt.T(), plain...)
		waitFor(bt.T(), 2*time.Minute, "the restarted region ready", victim.ready)
		took := time.Since(start)
		b.Logf("restart %d: %s ready %v after its process started (applied index %d)", i+1, victim.code, took.Round(time.Millisecond), victim.status().Applied)
		b.ReportMetric(took.Seconds(), "s/ready")
	}
	b.StopTimer()
	time.Sleep(3 * time.Second)
	for _, p := range procs {
		b.Logf("idle RSS of %s after the restarts: %d MiB (Go heap in use %s)", p.code, rssMiB(p), metric(bt.T(), p, "go_memstats_heap_inuse_bytes"))
	}
}

// benchT lends the process helpers, written for tests, to a benchmark.
type benchT struct{ b *testing.B }

func (bt benchT) T() testing.TB { return bt.b }

func rssMiB(p *proc) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.Atoi(strings.Fields(l)[1])
			return kb >> 10
		}
	}
	return -1
}

// growSnapshot copies a snapshot stream (format in consensus/snapshot.go),
// adding n records of size bytes under a key prefix no handler reads.
func growSnapshot(in, out string, n, size int) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		return err
	}
	defer zr.Close()
	br := bufio.NewReader(zr)
	g, err := os.Create(out)
	if err != nil {
		return err
	}
	defer g.Close()
	zw, err := zstd.NewWriter(g, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(zw)
	magic := make([]byte, 8)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != "FSENSNP1" {
		return errors.New("not a snapshot")
	}
	idx, _ := binary.ReadUvarint(br)
	term, _ := binary.ReadUvarint(br)
	digest := make([]byte, 32)
	if _, err := io.ReadFull(br, digest); err != nil {
		return err
	}
	var hdr []byte
	hdr = append(hdr, magic...)
	hdr = binary.AppendUvarint(hdr, idx)
	hdr = binary.AppendUvarint(hdr, term)
	hdr = append(hdr, digest...)
	bw.Write(hdr)
	var count uint64
	for {
		klen, err := binary.ReadUvarint(br)
		if err != nil {
			return err
		}
		if klen == 0 {
			break
		}
		key := make([]byte, klen)
		io.ReadFull(br, key)
		vlen, _ := binary.ReadUvarint(br)
		val := make([]byte, vlen)
		if _, err := io.ReadFull(br, val); err != nil {
			return err
		}
		writeRecord(bw, key, val)
		count++
	}
	val := bytes.Repeat([]byte("x"), size)
	for i := 0; i < n; i++ {
		writeRecord(bw, []byte(fmt.Sprintf("bench/%09d", i)), val)
		count++
	}
	var tail []byte
	tail = binary.AppendUvarint(tail, 0)
	tail = binary.AppendUvarint(tail, count)
	bw.Write(tail)
	if err := bw.Flush(); err != nil {
		return err
	}
	return zw.Close()
}

func writeRecord(w *bufio.Writer, k, v []byte) {
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(k)))
	b = append(b, k...)
	b = binary.AppendUvarint(b, uint64(len(v)))
	b = append(b, v...)
	w.Write(b)
}
