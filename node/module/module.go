// Package module is the shape every domain of a node takes: a Module
// declares its replicated commands, HTTP routes, libp2p protocols,
// Prometheus collectors and FHIR capabilities on a Registrar, then is
// started and stopped by the node, in order and in reverse. A module
// reaches other modules only through what the node hands it in its own
// Deps (small interfaces it declares), so adding a module touches no file
// of another one.
package module

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/index/fhirres"
)

// Module is one domain of a node.
type Module interface {
	// Name names the module in errors and logs.
	Name() string
	// Register declares what the module serves. It is called once per
	// module, before any module starts and before the replica starts, so
	// that the replica knows every command type when it applies its log.
	Register(r *Registrar) error
	// Start brings the module up once the replica runs; handlers may be
	// called from then on.
	Start(ctx context.Context) error
	// Stop releases what the module's constructor and Start acquired. It
	// is called once, in reverse order, for every module the node built,
	// whether or not it started, after the module's routes and protocols
	// stopped being served.
	Stop(ctx context.Context) error
}

// Commands registers the handlers of replicated command types (a
// consensus.Node).
type Commands interface {
	Register(typ string, h consensus.Handler) error
}

// Routes is where a module mounts its HTTP handlers.
type Routes interface {
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// Registrar is what a module declares itself on.
type Registrar struct {
	Commands  Commands
	Routes    Routes
	Protocols *Protocols
	// Metrics registers the module's collectors; the node adds the region
	// label to each.
	Metrics prometheus.Registerer
	// Capabilities collects the FHIR interactions and operations the
	// module serves, for the node's CapabilityStatement.
	Capabilities *fhirres.Capabilities
}

// StreamHost is where libp2p stream handlers are set (a host.Host).
type StreamHost interface {
	SetStreamHandler(pid protocol.ID, handler network.StreamHandler)
	RemoveStreamHandler(pid protocol.ID)
}

// Protocols collects the modules' libp2p stream handlers. The node
// installs them on its host once every module has started and removes
// them before any module stops, so no peer reaches a module that is not
// running.
type Protocols struct {
	mu       sync.Mutex
	handlers map[protocol.ID]network.StreamHandler
	host     StreamHost
}

// SetStreamHandler declares the handler of a protocol (served once
// installed).
func (p *Protocols) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.handlers == nil {
		p.handlers = map[protocol.ID]network.StreamHandler{}
	}
	p.handlers[pid] = handler
	if p.host != nil {
		p.host.SetStreamHandler(pid, handler)
	}
}

// RemoveStreamHandler withdraws a protocol.
func (p *Protocols) RemoveStreamHandler(pid protocol.ID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.handlers, pid)
	if p.host != nil {
		p.host.RemoveStreamHandler(pid)
	}
}

// Install serves every declared protocol on h, and the ones declared
// later as they are.
func (p *Protocols) Install(h StreamHost) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.host = h
	for pid, handler := range p.handlers {
		h.SetStreamHandler(pid, handler)
	}
}

// Uninstall stops serving them.
func (p *Protocols) Uninstall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.host == nil {
		return
	}
	for pid := range p.handlers {
		p.host.RemoveStreamHandler(pid)
	}
	p.host = nil
}

// Set is a node's modules, in the order they start.
type Set []Module

// Register registers every module, in order.
func (s Set) Register(r *Registrar) error {
	for _, m := range s {
		if err := m.Register(r); err != nil {
			return fmt.Errorf("%s: register: %w", m.Name(), err)
		}
	}
	return nil
}

// Start starts the modules in order; the error names the module that
// failed. The caller then stops them all (Stop), started or not.
func (s Set) Start(ctx context.Context) error {
	for _, m := range s {
		if err := m.Start(ctx); err != nil {
			return fmt.Errorf("%s: start: %w", m.Name(), err)
		}
	}
	return nil
}

// Stop stops the modules in reverse order; every module is stopped even
// if another fails, and each failure names its module.
func (s Set) Stop(ctx context.Context) error {
	var errs []error
	for i := len(s) - 1; i >= 0; i-- {
		if err := s[i].Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: stop: %w", s[i].Name(), err))
		}
	}
	return errors.Join(errs...)
}
