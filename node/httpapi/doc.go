// Package httpapi is the HTTP surface every module of a node shares: the
// one writer of FHIR OperationOutcomes, the one writer of problem+json
// (for the producer gateway's paths only, as the national gateway answers
// them), the one table from errors to status codes, 404 and 405 answers
// derived from the routes the modules registered, a request id on every
// request and every log line of it, and one access-log line per request.
//
// It is a leaf: it imports no module of fsenet but consensus (whose error
// codes it maps), and every module's handlers import it. It never logs a
// token or clinical content: the access log names the route pattern, not
// the path, and the caller by a hash of their subject.
package httpapi
