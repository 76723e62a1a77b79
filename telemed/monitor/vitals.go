// Package monitor keeps a telemonitored patient's measurements at the
// node of their home region: readings from home devices, checked and
// normalised on arrival, deduplicated (devices resend), accepted late and
// out of order, evaluated against the plan's thresholds in the same
// transaction that stores them, and kept as series and daily aggregates.
// Nothing here goes through Raft or leaves the node: other regions read
// it through the telemed protocol, under the access policy.
package monitor

import (
	"fmt"
	"math"
)

// Vital is a measured parameter the network knows: its LOINC code, the
// UCUM unit it is kept in, the units accepted (with their factor to the
// kept unit) and the physiological range outside which a reading is an
// error of the device, not of the patient.
type Vital struct {
	Code     string
	Display  string
	Unit     string             // UCUM, as kept
	Accepted map[string]float64 // UCUM unit -> factor to Unit
	Min, Max float64            // physiologically possible, in Unit
}

// LOINC codes of the vitals (the blood pressure panel is read as its two
// components).
const (
	Weight      = "29463-7"
	BPPanel     = "85354-9"
	Systolic    = "8480-6"
	Diastolic   = "8462-4"
	HeartRate   = "8867-4"
	SpO2        = "59408-5"
	Glucose     = "2339-0"
	SystemLOINC = "http://loinc.org"
	SystemUCUM  = "http://unitsofmeasure.org"
)

// Vitals are the parameters telemonitoring plans measure.
var Vitals = map[string]Vital{
	Weight:    {Weight, "Peso corporeo", "kg", map[string]float64{"kg": 1, "g": 0.001, "[lb_av]": 0.45359237}, 0.5, 400},
	Systolic:  {Systolic, "Pressione sistolica", "mm[Hg]", map[string]float64{"mm[Hg]": 1, "kPa": 7.50061683}, 40, 300},
	Diastolic: {Diastolic, "Pressione diastolica", "mm[Hg]", map[string]float64{"mm[Hg]": 1, "kPa": 7.50061683}, 20, 200},
	HeartRate: {HeartRate, "Frequenza cardiaca", "/min", map[string]float64{"/min": 1, "{beats}/min": 1, "{Beats}/min": 1}, 15, 300},
	SpO2:      {SpO2, "Saturazione di ossigeno", "%", map[string]float64{"%": 1}, 40, 100},
	Glucose:   {Glucose, "Glucosio", "mg/dL", map[string]float64{"mg/dL": 1, "mmol/L": 18.016}, 10, 1500},
}

// Codes are the vitals' codes in the order documents list them.
var Codes = []string{Weight, Systolic, Diastolic, HeartRate, SpO2, Glucose}

// Aliases are codes devices send for a vital kept under another: HL7
// Italia's telemonitoring guide defines SpO2 thresholds on 59408-5 and
// writes its measurements as 2708-6.
var Aliases = map[string]string{"2708-6": SpO2}

// Canonical is the code a vital is kept under.
func Canonical(code string) string {
	if c, ok := Aliases[code]; ok {
		return c
	}
	return code
}

// Normalise returns a value of a vital in its kept unit (the code as
// Canonical gives it), refusing unknown codes and units and values no
// patient can have.
func Normalise(code string, value float64, unit string) (float64, error) {
	v, ok := Vitals[Canonical(code)]
	if !ok {
		return 0, fmt.Errorf("%w: code %q is not a telemonitored parameter", ErrInvalid, code)
	}
	f, ok := v.Accepted[unit]
	if !ok {
		return 0, fmt.Errorf("%w: %s (%s) is not measured in %q; want %s", ErrInvalid, v.Display, code, unit, v.Unit)
	}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return 0, fmt.Errorf("%w: %s: not a number", ErrInvalid, v.Display)
	}
	n := value * f
	if n < v.Min || n > v.Max {
		return 0, fmt.Errorf("%w: %s %g %s is outside the physiological range %g–%g %s", ErrInvalid, v.Display, value, unit, v.Min, v.Max, v.Unit)
	}
	return n, nil
}
