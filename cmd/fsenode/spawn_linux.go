package main

import (
	"os/exec"
	"runtime"
	"syscall"
)

// spawner starts the demo's region processes so that they end with the
// demo, however it ends (Ctrl-C, SIGHUP, SIGKILL): each child asks the
// kernel for SIGTERM when its parent dies (Pdeathsig), and stops cleanly
// within its shutdown timeout. Linux sends that signal when the *thread*
// that started the child ends, not the process (golang/go#27505), and Go
// may end idle threads; so every child is started from one goroutine
// locked to its own thread, which lives as long as the spawner.
type spawner struct {
	reqs chan spawnRequest
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnRequest)}
	go func() {
		// Never unlocked: when close ends this goroutine, its thread
		// ends too, which signals any child still running.
		runtime.LockOSThread()
		for r := range s.reqs {
			r.done <- r.cmd.Start()
		}
	}()
	return s
}

// start starts cmd in its own process group (so that Ctrl-C in the
// terminal reaches the demo only, which stops the regions in order), to
// receive SIGTERM when the demo ends.
func (s *spawner) start(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	r := spawnRequest{cmd: cmd, done: make(chan error, 1)}
	s.reqs <- r
	return <-r.done
}

// close ends the spawner once its children have stopped.
func (s *spawner) close() { close(s.reqs) }
