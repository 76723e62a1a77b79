package synth

import (
	"hash/fnv"
	"math/rand/v2"
)

// Places and professionals of the national documents (RAP, RSA).

// reportPlace is a place as CDA addresses write it: ISTAT codes of region
// and comune, the province's abbreviation.
type reportPlace struct{ Region, City, Istat, Prov string }

// regionalCapitals are the regional capitals by FSE region code: a
// document's organisations and its patient's home are in the
// custodian's region.
var regionalCapitals = map[string]reportPlace{
	"010": {"010", "Torino", "001272", "TO"}, "020": {"020", "Aosta", "007003", "AO"},
	"030": {"030", "Milano", "015146", "MI"}, "041": {"041", "Bolzano", "021008", "BZ"},
	"042": {"042", "Trento", "022205", "TN"}, "050": {"050", "Venezia", "027042", "VE"},
	"060": {"060", "Trieste", "032006", "TS"}, "070": {"070", "Genova", "010025", "GE"},
	"080": {"080", "Bologna", "037006", "BO"}, "090": {"090", "Firenze", "048017", "FI"},
	"100": {"100", "Perugia", "054039", "PG"}, "110": {"110", "Ancona", "042002", "AN"},
	"120": {"120", "Roma", "058091", "RM"}, "130": {"130", "L'Aquila", "066049", "AQ"},
	"140": {"140", "Campobasso", "070006", "CB"}, "150": {"150", "Napoli", "063049", "NA"},
	"160": {"160", "Bari", "072006", "BA"}, "170": {"170", "Potenza", "076063", "PZ"},
	"180": {"180", "Catanzaro", "079023", "CZ"}, "190": {"190", "Palermo", "082053", "PA"},
	"200": {"200", "Cagliari", "092009", "CA"},
}

// cadastralBirthplaces are the comuni of the cadastral codes synth's patients
// are born in (the codice fiscale's characters 12 to 15).
var cadastralBirthplaces = map[string]reportPlace{
	"H501": regionalCapitals["120"], "F205": regionalCapitals["030"], "F839": regionalCapitals["150"],
	"A662": regionalCapitals["160"], "L219": regionalCapitals["010"],
}

// reportAddr is an address: its use (H home, WP work place), place and
// street.
type reportAddr struct {
	Use    string
	P      reportPlace
	Street string
}

// reportPerson is a professional a document names.
type reportPerson struct{ CF, Family, Given, Prefix string }

// reportStaff is a synthetic professional of a document of kind, of
// working age and the same for the same document and role (stream
// seeds each kind's own); gender, when not empty, is the one they must
// have.
func reportStaff(d Document, kind, role, gender string, stream uint64) reportPerson {
	h := fnv.New64a()
	h.Write([]byte(d.ID() + "#" + kind + "#" + role))
	rng := rand.New(rand.NewPCG(h.Sum64(), stream))
	for {
		p := NewPatient(rng)
		age := d.Time.Year() - p.BirthDate.Year()
		if age < 30 || age > 66 || gender != "" && p.Gender != gender {
			continue
		}
		prefix := "Dott."
		if p.Gender == "F" {
			prefix = "Dott.ssa"
		}
		return reportPerson{p.CF, p.Family, p.Given, prefix}
	}
}

// genderOfCF is the gender a codice fiscale encodes (women's birth day
// plus 40), or "" for a code of another shape.
func genderOfCF(cf string) string {
	if len(cf) != 16 || cf[9] < '0' || cf[9] > '7' {
		return ""
	}
	if cf[9] >= '4' {
		return "F"
	}
	return "M"
}
