// Package node assembles one region's node: configuration (file,
// environment, flags, validated before start), the lifecycle of the parts
// (started in order, stopped in reverse), the HTTP server with the FHIR API,
// health and metrics, and the wiring between federation, consensus and the
// domain packages. It is the only package that knows all the others.
package node
