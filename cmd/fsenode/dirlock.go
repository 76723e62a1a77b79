package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// errDirInUse is returned when another process holds a directory's lock.
var errDirInUse = errors.New("directory in use by another process")

// dirInUseError names the directory and the process that holds it.
type dirInUseError struct {
	what, dir string // "data directory", "/var/lib/fsenet"
	pid       int    // 0 when unknown
	cmdline   string // "" when unknown
}

func (e *dirInUseError) Error() string {
	switch {
	case e.pid == 0:
		return fmt.Sprintf("%s %s is in use by another process", e.what, e.dir)
	case e.cmdline == "":
		return fmt.Sprintf("%s %s is in use by process %d", e.what, e.dir, e.pid)
	}
	return fmt.Sprintf("%s %s is in use by process %d (%s)", e.what, e.dir, e.pid, e.cmdline)
}

func (e *dirInUseError) Is(target error) bool { return target == errDirInUse }

// dirLockFile is the lock file fsenode keeps in a node's data directory
// (and in a demo's directory) while it runs: an advisory lock held for the
// process's life, and the holder's PID, to say who holds it.
const dirLockFile = "fsenode.lock"

// lockDir takes the directory's lock (creating the directory if missing)
// so that no second fsenode process runs on it: two nodes on one data
// directory would write one Raft log and one state database. The lock
// ends with the process, however it ends; release ends it earlier. When
// another process holds it, the error is errDirInUse and names that
// process: "data directory DIR is in use by process PID (COMMAND LINE)".
func lockDir(dir, what string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, dirLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := lockHolder(path)
			return nil, &dirInUseError{what: what, dir: dir, pid: pid, cmdline: processCommandLine(pid)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// lockHolder is the PID the lock file holds, 0 when there is none yet
// (the holder writes it just after taking the lock).
func lockHolder(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// processCommandLine is the process's command line from /proc, "" when
// it cannot be read.
func processCommandLine(pid int) string {
	if pid <= 0 {
		return ""
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
