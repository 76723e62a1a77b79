// Package repository holds a region's own clinical documents in badger and
// the producer gateway in front of them (validate, verify, store, publish
// to the index through a durable outbox). Content never leaves the region
// except to an authorised, audited request.
package repository
