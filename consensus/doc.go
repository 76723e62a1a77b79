// Package consensus replicates fsenet's national state with hashicorp/raft
// over libp2p streams and keeps it in badger.
//
// It owns the Raft node (transport, log store, snapshots, membership
// operations), the FSM framework that dispatches each replicated command to
// the package that registered its type, the group commit of concurrent
// writers, the forwarding of writes from any node to the leader, and the two
// read consistencies (local and strong).
//
// The state machine contract: every log entry is a batch of commands, each an
// envelope {type, version, key, payload}. Handlers apply commands
// deterministically inside one badger transaction per Raft batch, which also
// records the applied index and the running state digest, so a restarted node
// skips what it has already applied. Domain errors travel back in the result;
// an entry that cannot be decoded is corruption and stops the node.
//
// This package never interprets payloads and never holds clinical content in
// logs.
package consensus
