package mhd

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/repository/fetch"
)

// Source answers other regions' fetches of this region's documents
// (repository/fetch): the caller's token is verified with verify (the
// replicated IdP keys), the same access policy decides, and every answer
// — content or refusal — is audited here, the custodian, before it goes.
// A refusal is "not-found" whether the document is absent, withdrawn or
// not for this caller. An attempt (a read the requesting node refused) is
// decided and audited the same way, and always refused.
//
// The content goes out as the store keeps it, zstd frames that are not
// decompressed here: the requester checks every byte against its own
// replica of the index, so bytes altered on this region's disk are
// refused (and counted) there, and by this node's own reads.
func (a *API) Source(verify func(token string) (index.Caller, error)) fetch.Source {
	return func(ctx context.Context, from peer.ID, req fetch.Request) (fetch.Content, error) {
		c, err := verify(req.Token)
		if err != nil {
			a.d.Log.Info("refused a fetch: token", "peer", from, "reason", err.Error())
			return fetch.Content{}, &fetch.Refusal{Code: fetch.CodeUnauth, Message: "the caller's token is not valid"}
		}
		var e index.Entry
		var acc index.Access
		var found bool
		if err := a.d.Read(ctx, func(rd index.Reader) error {
			var ok bool
			var err error
			if e, ok, err = index.GetEntry(rd, req.Doc); err != nil || !ok {
				return err
			}
			p, ok, err := index.GetPatient(rd, e.Patient)
			if err != nil || !ok {
				return err
			}
			found, acc = true, index.EntryAccess(c, p, e)
			return nil
		}); err != nil {
			return fetch.Content{}, &fetch.Refusal{Code: fetch.CodeBusy, Message: "the index could not be read; retry"}
		}
		ev := index.Event{Actor: c.Subject, Role: c.Role, Org: c.Organization, Region: c.Region, Purpose: c.Purpose,
			Action: index.ActionRead, What: "Binary.fetch", Patient: e.Patient, Documents: []string{req.Doc}, Override: acc.Override}
		refuse := func() (fetch.Content, error) {
			ev.Outcome = index.OutcomeRefused
			if err := a.d.Audit.Record(ctx, ev); err != nil {
				a.d.Log.Error("audit record failed", "err", err)
			}
			return fetch.Content{}, &fetch.Refusal{Code: fetch.CodeNotFound, Message: "no such document"}
		}
		if !found || !acc.Content || e.Custodian != a.d.Region {
			return refuse()
		}
		if req.Attempt {
			// The requesting node refused what this replica allows: the
			// replicas disagree for now (a consent or blinding change on
			// its way). Its refusal stands.
			a.d.Log.Warn("a region refused a read this node's policy allows", "peer", from, "doc", req.Doc)
			return refuse()
		}
		rc, _, _ := a.openStored(e, a.d.Store.Frames)
		if rc == nil {
			return refuse()
		}
		ev.Outcome = index.OutcomeSuccess
		if err := a.d.Audit.Record(ctx, ev); err != nil {
			rc.Close()
			a.d.Log.Error("audit record failed; content withheld", "err", err)
			return fetch.Content{}, &fetch.Refusal{Code: fetch.CodeBusy, Message: "the access could not be audited; retry"}
		}
		return fetch.Content{Body: rc, Size: e.Size, Zstd: true}, nil
	}
}
