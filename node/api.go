package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/repository/gateway"
)

// capabilityDate is when the CapabilityStatement's shape last changed.
const capabilityDate = "2026-12-04"

// routeNode mounts the node's own routes: health, readiness, metrics, the
// FHIR CapabilityStatement of everything the modules declared, and the
// replica's snapshot. The modules mount theirs when they register.
func (n *Node) routeNode() {
	n.routes.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpapi.JSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	n.routes.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, why := n.Ready()
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		httpapi.JSON(w, code, map[string]any{"ready": ok, "reason": why})
	})
	n.routes.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
	n.routes.HandleFunc("GET /fhir/metadata", n.handleMetadata)
	n.routes.HandleFunc("GET /v1/snapshot", n.handleSnapshot)
	n.routes.HandleFunc("GET /v1/backup", n.handleBackup)            // backup.go
	n.routes.HandleFunc("GET /v1/backup/check", n.handleBackupCheck) // backup.go

	n.routeIntegrity() // integrity.go: GET /v1/cluster/scrub, fsenet_state_* metrics
}

// handleMetadata is the FHIR CapabilityStatement: exactly what the
// modules serve.
func (n *Node) handleMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/fhir+json")
	_ = json.NewEncoder(w).Encode(n.caps.Statement("fsenet node of region "+n.cfg.Region, capabilityDate))
}

// handleSnapshot streams a point-in-time copy of the replicated state.
func (n *Node) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	if !authorize(w, r, index.ActSnapshot, index.Target{Region: n.cfg.Region}) {
		return
	}
	idx, err := n.cons.WriteSnapshot(w, func(index uint64) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Fsenet-Snapshot-Index", strconv.FormatUint(index, 10))
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="fsenet-%s-%d.snap"`, n.cfg.Region, index))
		w.WriteHeader(http.StatusOK)
	})
	if err != nil {
		// Headers are gone; cutting the stream short makes the client's
		// zstd reader and the trailer check fail.
		httpapi.Log(r).Error("snapshot stream failed", "index", idx, "err", err)
		panic(http.ErrAbortHandler)
	}
	p, _ := PrincipalFrom(r.Context())
	httpapi.Log(r).Info("snapshot served", "index", idx, "by", p.OrganizationID, "issuer", p.Issuer)
}

// gatewayPath reports the producer gateway's paths, whose errors are
// problem+json.
func gatewayPath(path string) bool { return gateway.Serves(path) }

// bearerClaims is the request's verified token.
func bearerClaims(r *http.Request) (federation.Claims, bool) {
	p, ok := PrincipalFrom(r.Context())
	if !ok {
		return federation.Claims{}, false
	}
	return p.Claims, true
}
