package telemed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/node/httpapi"
	"github.com/fsenet/fsenet/telemed/booking"
	"github.com/fsenet/fsenet/telemed/monitor"
	"github.com/fsenet/fsenet/telemed/report"
)

// Protocol carries a caller's request to the node of the region that
// provides a service: the caller's token travels with it, and the
// provider decides, audits and answers on its own replica and schedule.
var Protocol = federation.ProtocolID("telemed", "1.0.0")

// Operations of the protocol.
const (
	opSlots  = "slots"  // free slots of a service
	opBook   = "book"   // book a slot
	opCancel = "cancel" // cancel an appointment
	opRead   = "read"   // read an appointment
	opVideo  = "video"  // a participant's video-session token
	opMove   = "move"   // reschedule an appointment to another slot (Request.Slot)

	opEncounter     = "encounter"      // open a booked televisit's encounter (Appointment)
	opReadEncounter = "encounter.read" // Encounter
	opReport        = "report"         // the report of an encounter, teleconsult or plan (one of Encounter, Consult, Plan)
	opConsult       = "consult"        // ask a teleconsult (Service, Patient, ClientKey, Text, Documents)
	opReadConsult   = "consult.read"   // Consult
	opTask          = "task"           // move a teleconsult's task (Consult, Status, Text: the reason)
	opMessage       = "message"        // a Communication into a teleconsult (Consult, Text, Documents, ReplyTo)
	opMessages      = "messages"       // a teleconsult's Communications (Consult)
	opPlan          = "plan"           // start a teleassistance plan (Template, TemplateVersion, Patient, ClientKey)
	opReadPlan      = "plan.read"      // Plan, with its sessions
	opSession       = "session"        // record a plan's session (Plan, From, To, Profession, Text: the note)

	opEnrol          = "monitoring.enrol"    // start a telemonitoring plan (Monitoring, Template, TemplateVersion, Patient, ClientKey)
	opReadMonitoring = "monitoring.read"     // a telemonitoring plan (Plan)
	opReadings       = "readings"            // a patient's series of a parameter (Patient, Code, From, To, Count)
	opDaily          = "readings.daily"      // its daily aggregates (Patient, Code, From, To)
	opDevice         = "monitoring.device"   // register a device of a plan's kit (Plan, Kit)
	opDocument       = "monitoring.document" // a plan's document (Plan, DocumentKind; From, To for a report)
	opClose          = "monitoring.close"    // close a plan (Plan, Text: the final report's), answering its Relazione finale
)

// ops are the operations a provider serves.
var ops = []string{opSlots, opBook, opCancel, opRead, opVideo, opMove, opEncounter, opReadEncounter, opReport,
	opConsult, opReadConsult, opTask, opMessage, opMessages, opPlan, opReadPlan, opSession, opEnrol, opReadMonitoring, opReadings, opDaily, opDevice, opDocument, opClose}

// Request is one call to a provider.
type Request struct {
	V           int                  `json:"v"`
	Op          string               `json:"op"`
	Token       string               `json:"token"`
	Service     string               `json:"service,omitempty"`
	Slot        string               `json:"slot,omitempty"`
	Appointment string               `json:"appointment,omitempty"`
	Patient     string               `json:"patient,omitempty"`
	ClientKey   string               `json:"client_key,omitempty"`
	Eligibility *booking.Eligibility `json:"eligibility,omitempty"`
	From        time.Time            `json:"from,omitzero"`
	To          time.Time            `json:"to,omitzero"`

	Encounter       string               `json:"encounter,omitempty"`
	Consult         string               `json:"consult,omitempty"`
	Plan            string               `json:"plan,omitempty"`
	Template        string               `json:"template,omitempty"`
	TemplateVersion int                  `json:"template_version,omitempty"`
	Status          string               `json:"status,omitempty"`
	Text            string               `json:"text,omitempty"`
	Quesito         string               `json:"quesito,omitempty"`
	Prestazioni     []report.Prestazione `json:"prestazioni,omitempty"`
	Documents       []string             `json:"documents,omitempty"`
	ReplyTo         string               `json:"reply_to,omitempty"`
	Profession      string               `json:"profession,omitempty"`
	Monitoring      *monitor.Plan        `json:"monitoring,omitempty"`
	Code            string               `json:"code,omitempty"`
	Count           int                  `json:"count,omitempty"`
	Device          string               `json:"device,omitempty"` // a series page starts at From and this device
	Kit             *monitor.Device      `json:"kit,omitempty"`
	DocumentKind    string               `json:"document_kind,omitempty"`
}

// Response is a provider's answer.
type Response struct {
	Slots       []booking.Slot       `json:"slots,omitempty"`
	Appointment *booking.Appointment `json:"appointment,omitempty"`
	Duplicate   bool                 `json:"duplicate,omitempty"`
	Video       *VideoSession        `json:"video,omitempty"`

	Encounter *booking.Encounter  `json:"encounter,omitempty"`
	Consult   *booking.Consult    `json:"consult,omitempty"`
	Messages  []booking.Message   `json:"messages,omitempty"`
	Message   *booking.Message    `json:"message,omitempty"`
	Plan      *booking.CarePlan   `json:"plan,omitempty"`
	Sessions  []booking.Encounter `json:"sessions,omitempty"`
	Report    *ReportFile         `json:"report,omitempty"`

	Monitoring *monitor.Plan     `json:"monitoring,omitempty"`
	Readings   []monitor.Reading `json:"readings,omitempty"`
	Days       []monitor.Day     `json:"days,omitempty"`
	Next       monitor.Cursor    `json:"next,omitzero"`
	Document   json.RawMessage   `json:"document,omitempty"` // a plan's FHIR document Bundle
}

// ReportFile is a report made by the provider: the id it is published
// under in the FSE, and the PDF carrying its CDA.
type ReportFile struct {
	Document string `json:"document"` // the index id, 2.16.840.1.113883.2.9.2.<region>.4.4^<local>
	Kind     string `json:"kind"`
	PDF      []byte `json:"pdf"`
	Patient  string `json:"patient"` // for the asking node's audit
}

// Refusal codes a provider answers with (federation.RemoteError.Code).
const (
	codeInvalid      = "invalid"
	codeUnauthorized = "unauthorized"
	codeForbidden    = "forbidden"
	codeNotFound     = "not-found"
	codeConflict     = "conflict"
	codeUnavailable  = "unavailable"
)

// DecodeRequest reads a request off the wire, refusing unknown fields,
// other versions and unknown operations.
func DecodeRequest(b []byte) (Request, error) {
	var r Request
	dec := json.NewDecoder(bytesReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("telemed request: %w", err)
	}
	if dec.More() {
		return r, errors.New("telemed request: data after the request")
	}
	switch {
	case r.V != 1:
		return r, fmt.Errorf("telemed request: version %d (this node speaks 1)", r.V)
	case !slices.Contains(ops, r.Op):
		return r, fmt.Errorf("telemed request: unknown operation %q", r.Op)
	case r.Token == "" || len(r.Token) > 16<<10:
		return r, errors.New("telemed request: a caller's token is required")
	}
	return r, nil
}

func rpcOptions() federation.RPCOptions {
	o := federation.DefaultRPCOptions()
	o.MaxRequest, o.MaxResponse, o.Timeout = 128<<10, 16<<20, 5*time.Second
	return o
}

// serveProtocol answers other regions' nodes.
func (m *Module) serveProtocol(h federation.StreamHost) {
	federation.Serve(h, Protocol, rpcOptions(), m.log, func(ctx context.Context, from peer.ID, b []byte) ([]byte, error) {
		req, err := DecodeRequest(b)
		if err != nil {
			return nil, &federation.RemoteError{Code: codeInvalid, Message: err.Error()}
		}
		claims, err := m.d.Verify(req.Token)
		if err != nil {
			m.log.Info("refused a telemedicine call: token", "peer", from, "reason", err.Error())
			return nil, &federation.RemoteError{Code: codeUnauthorized, Message: "the caller's token is not valid"}
		}
		resp, err := m.provide(ctx, callerOf(claims), req)
		if err != nil {
			return nil, remoteError(err)
		}
		return json.Marshal(resp)
	})
}

// call sends a request to the providing region's node.
func (m *Module) call(ctx context.Context, region string, req Request) (Response, error) {
	var resp Response
	p, ok := m.d.RegionPeer(region)
	if !ok {
		// An id naming a region outside the federation names nothing.
		return resp, httpapi.E(httpapi.ErrNotFound, "region "+region+" is not a member of the federation: no such resource")
	}
	req.V = 1
	b, err := json.Marshal(req)
	if err != nil {
		return resp, err
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.ProviderDeadline)
	defer cancel()
	out, err := federation.Call(ctx, m.d.Host, p, Protocol, b, rpcOptions())
	if err != nil {
		var re *federation.RemoteError
		if errors.As(err, &re) {
			return resp, fromRemote(re)
		}
		return resp, fmt.Errorf("%w: region %s did not answer within %s (%v)", errUnreachable, region, m.cfg.ProviderDeadline, err)
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return resp, fmt.Errorf("%w: region %s answered garbage", errUnreachable, region)
	}
	return resp, nil
}

// answers reports whether a provider's response carries what op asks for.
func (r Response) answers(op string) bool {
	switch op {
	case opSlots:
		return true
	case opVideo:
		return r.Appointment != nil && r.Video != nil
	case opBook, opCancel, opRead, opMove:
		return r.Appointment != nil
	case opEncounter, opReadEncounter, opSession:
		return r.Encounter != nil
	case opReport:
		return r.Report != nil && len(r.Report.PDF) > 0
	case opConsult, opReadConsult, opTask, opMessages:
		return r.Consult != nil
	case opMessage:
		return r.Consult != nil && r.Message != nil
	case opPlan, opReadPlan:
		return r.Plan != nil
	case opEnrol, opReadMonitoring, opReadings, opDaily, opDevice:
		return r.Monitoring != nil
	case opDocument, opClose:
		return r.Monitoring != nil && len(r.Document) > 0
	}
	return false
}

// patient is the patient a response is about, for the asking node's
// audit ("" when none).
func (r Response) patient() string {
	switch {
	case r.Appointment != nil:
		return r.Appointment.Patient
	case r.Encounter != nil:
		return r.Encounter.Patient
	case r.Consult != nil:
		return r.Consult.Patient
	case r.Plan != nil:
		return r.Plan.Patient
	case r.Report != nil:
		return r.Report.Patient
	case r.Monitoring != nil:
		return r.Monitoring.Patient
	}
	return ""
}
