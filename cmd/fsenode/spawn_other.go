//go:build !linux

package main

import (
	"os/exec"
	"syscall"
)

// spawner starts the demo's region processes. Outside Linux there is no
// parent-death signal: a demo killed with SIGKILL leaves its regions
// running (a stop signal still stops them in order).
type spawner struct{}

func newSpawner() *spawner { return &spawner{} }

func (s *spawner) start(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd.Start()
}

func (s *spawner) close() {}
