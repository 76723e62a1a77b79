// Package index holds the replicated national state that every region
// reads locally: the patient registry (ANA), the document index (INI) and
// the audit trail, as state machines on the consensus log, and the one
// access policy (consent, blinding, role, purpose of use) that every read
// path applies. It never holds clinical content: only metadata and where
// the content lives.
package index
