// Package federation owns how fsenet nodes find, admit and talk to each other:
// the libp2p host and its persistent identity, the allowlist connection gater
// that admits only federation members, the optional private-network key, and a
// small helper for versioned request/response stream protocols
// (/fsenet/<name>/<version>).
//
// It knows nothing about Raft or about clinical data. Membership reaches the
// gater from outside (the replicated membership state calls Gater.SetMembers),
// so this package never imports the packages that replicate it.
package federation
