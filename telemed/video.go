package telemed

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/telemed/booking"
)

// Video sessions are held on an external, Jitsi-compatible video service:
// fsenet builds no video server. For each appointment the provider's node
// issues a JWT as Jitsi's token authentication reads it — audience
// "jitsi", the room, valid from 15 minutes before the visit to its end —
// signed (EdDSA) with the provider node's own key, whose public half is
// the node's certified peer ID: the video service verifies it with the
// key of the region's node, named in the header's kid.
const videoLead = 15 * time.Minute

// VideoSession is what a participant needs to join an appointment's video.
type VideoSession struct {
	Room      string    `json:"room"`
	Token     string    `json:"token"`
	NotBefore time.Time `json:"not_before"`
	Expiry    time.Time `json:"expiry"`
	// Moderator: the provider's clinicians hold the room; patients and
	// other regions' clinicians join it.
	Moderator bool `json:"moderator"`
}

// videoRoom is an appointment's room: as unguessable as its id.
func videoRoom(a booking.Appointment) string { return "fsenet-" + a.ID }

// videoToken issues the token of a participant in an appointment.
func videoToken(key ed25519.PrivateKey, kid, region string, a booking.Appointment, c index.Caller) (VideoSession, error) {
	if len(key) != ed25519.PrivateKeySize {
		return VideoSession{}, errors.New("video tokens: no signing key")
	}
	if a.Status != booking.AppointmentBooked {
		return VideoSession{}, fmt.Errorf("%w: the appointment is %s", booking.ErrState, a.Status)
	}
	s := VideoSession{Room: videoRoom(a), NotBefore: a.Start.Add(-videoLead), Expiry: a.End,
		Moderator: c.Region == region && !c.IsPatient(index.Patient{ID: a.Patient})}
	tok, err := jwt.NewBuilder().
		Issuer("fsenet-"+region).Audience([]string{"jitsi"}).Subject("*").
		NotBefore(s.NotBefore).Expiration(s.Expiry).IssuedAt(time.Now()).
		Claim("room", s.Room).
		Claim("context", map[string]any{"user": map[string]any{"moderator": s.Moderator, "affiliation": map[bool]string{true: "owner", false: "member"}[s.Moderator]}}).
		Build()
	if err != nil {
		return VideoSession{}, err
	}
	hdr := jws.NewHeaders()
	if err := errors.Join(hdr.Set(jws.TypeKey, "JWT"), hdr.Set(jws.KeyIDKey, kid)); err != nil {
		return VideoSession{}, err
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.EdDSA(), key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return VideoSession{}, err
	}
	s.Token = string(signed)
	return s, nil
}
