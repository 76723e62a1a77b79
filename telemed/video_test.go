package telemed

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/fsenet/fsenet/index"
	"github.com/fsenet/fsenet/telemed/booking"
)

func TestVideoToken(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	start := time.Now().Add(time.Hour).Truncate(time.Second)
	a := booking.Appointment{ID: "030-abc", Patient: "CF:RSSMRA80A01H501U", Status: booking.AppointmentBooked, Start: start, End: start.Add(30 * time.Minute)}
	provider := index.Caller{Subject: "VRDGPP70A01F205X", Role: "AAS", Purpose: index.PurposeTreatment, Region: "030"}
	patient := index.Caller{Subject: "RSSMRA80A01H501U", Role: index.RolePatient, Purpose: index.PurposePersonal, Region: "160"}
	for _, tt := range []struct {
		name      string
		c         index.Caller
		moderator bool
	}{{"the provider's clinician", provider, true}, {"the patient", patient, false}} {
		t.Run(tt.name, func(t *testing.T) {
			v, err := videoToken(key, "peer", "030", a, tt.c)
			if err != nil || v.Moderator != tt.moderator || v.Room != "fsenet-030-abc" {
				t.Fatalf("%+v %v", v, err)
			}
			tok, err := jwt.Parse([]byte(v.Token), jwt.WithKey(jwa.EdDSA(), pub), jwt.WithValidate(false))
			if err != nil {
				t.Fatal(err)
			}
			nbf, _ := tok.NotBefore()
			exp, _ := tok.Expiration()
			aud, _ := tok.Audience()
			if !nbf.Equal(start.Add(-15*time.Minute)) || !exp.Equal(a.End) || len(aud) != 1 || aud[0] != "jitsi" {
				t.Fatalf("nbf %v exp %v aud %v", nbf, exp, aud)
			}
			// Not valid before 15 minutes ahead of the visit.
			if err := jwt.Validate(tok, jwt.WithClock(jwt.ClockFunc(time.Now)), jwt.WithAudience("jitsi")); err == nil {
				t.Fatal("valid an hour before the visit")
			}
			if err := jwt.Validate(tok, jwt.WithClock(jwt.ClockFunc(func() time.Time { return start.Add(-10 * time.Minute) })), jwt.WithAudience("jitsi")); err != nil {
				t.Fatalf("not valid 10 minutes before: %v", err)
			}
		})
	}
	cancelled := a
	cancelled.Status = booking.AppointmentCancelled
	if _, err := videoToken(key, "peer", "030", cancelled, patient); !errors.Is(err, booking.ErrState) {
		t.Fatalf("a cancelled appointment: %v", err)
	}
	if _, err := videoToken(nil, "peer", "030", a, patient); err == nil {
		t.Fatal("no key")
	}
}
