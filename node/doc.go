// Package node is the composition root of one region's node: it reads the
// configuration (file, environment, flags, validated before start) and
// the trust material (the node key, the authority's key, the region's
// certificate, refused before anything listens), builds the libp2p host
// and the replica, builds the domain modules (node/module) and hands each
// what it needs of the others, starts them in order and stops them in
// reverse, and serves HTTP: authentication of every request, health,
// readiness, metrics, the CapabilityStatement of what the modules
// declared, snapshots. It holds no domain logic: decisions are the
// index's access policy, errors go through node/httpapi, and every route
// but its own belongs to a module.
package node
