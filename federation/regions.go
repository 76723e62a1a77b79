package federation

import "regexp"

// RegionNames maps the ISTAT codes that FSE uses to the regions' names
// (950 is the Ministry, which may run an auditing node of its own).
var RegionNames = map[string]string{
	"010": "Piemonte", "020": "Valle d'Aosta", "030": "Lombardia", "041": "PA Bolzano",
	"042": "PA Trento", "050": "Veneto", "060": "Friuli-Venezia Giulia", "070": "Liguria",
	"080": "Emilia-Romagna", "090": "Toscana", "100": "Umbria", "110": "Marche",
	"120": "Lazio", "130": "Abruzzo", "140": "Molise", "150": "Campania", "160": "Puglia",
	"170": "Basilicata", "180": "Calabria", "190": "Sicilia", "200": "Sardegna",
	"950": "Ministero della Salute",
}

var regionCodeRE = regexp.MustCompile(`^[0-9]{3}$`)

// ValidRegionCode reports whether code has the form of an ISTAT region code
// (three digits). Whether the code names a known region is RegionNames'
// business.
func ValidRegionCode(code string) bool { return regionCodeRE.MatchString(code) }
