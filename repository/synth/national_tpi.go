package synth

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"text/template"
	"time"
)

// The Tessera Portatore di Impianto (TPI, LOINC 101881-1, HL7 Italia
// template 2.16.840.1.113883.2.9.10.1.17.1): the implant card of a
// revision of a right hip prosthesis. Its Impianto dispositivo section
// has the anatomical site and three devices — the new acetabular cup and
// liner, present, and the old cup, explanted, which refers to the card
// that recorded it — each with its product, lot, manufacturer, place of
// implant, UDI-identified device and status, as the national schematron
// checks them.

func init() { registerNational("TPI", buildTPI) }

// tpiPlace is a place as CDA addresses write it: ISTAT codes of region
// and comune, the province's abbreviation.
type tpiPlace struct{ Region, City, Istat, Prov string }

// tpiCapitals are the regional capitals by FSE region code: the hospital
// and the patient's home are in the custodian's region.
var tpiCapitals = map[string]tpiPlace{
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

// tpiBirthplaces are the comuni of the cadastral codes synth's patients
// are born in (the codice fiscale's characters 12 to 15).
var tpiBirthplaces = map[string]tpiPlace{
	"H501": tpiCapitals["120"], "F205": tpiCapitals["030"], "F839": tpiCapitals["150"],
	"A662": tpiCapitals["160"], "L219": tpiCapitals["010"],
}

// tpiAddr is an address: its use (H home, WP work place), place and
// street.
type tpiAddr struct {
	Use    string
	P      tpiPlace
	Street string
}

// tpiPerson is a professional named in the card.
type tpiPerson struct{ CF, Family, Given, Prefix string }

// tpiStaff is a synthetic professional, of working age and the same for
// the same document and role; gender, when not empty, is the one they
// must have.
func tpiStaff(d Document, role, gender string) tpiPerson {
	h := fnv.New64a()
	h.Write([]byte(d.ID() + "#TPI#" + role))
	rng := rand.New(rand.NewPCG(h.Sum64(), 17))
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
		return tpiPerson{p.CF, p.Family, p.Given, prefix}
	}
}

// tpiGender is the gender a codice fiscale encodes (women's birth day
// plus 40), or "" for a code of another shape.
func tpiGender(cf string) string {
	if len(cf) != 16 || cf[9] < '0' || cf[9] > '7' {
		return ""
	}
	if cf[9] >= '4' {
		return "F"
	}
	return "M"
}

// tpiDevice is one implanted or explanted device.
type tpiDevice struct {
	Ref, Name, Model, Lot, UDI string
	Implanted, Explanted       string // timestamps; Explanted empty while in place
	PreviousCard               string // the extension of the card that recorded it, if any
}

func buildTPI(d Document) []byte {
	rome := time.FixedZone("", 3600)
	ts := func(t time.Time) string { return t.In(rome).Format("20060102150405-0700") }
	home, ok := tpiCapitals[d.Region]
	if !ok {
		home = tpiCapitals["120"]
	}
	born := tpiPlace{}
	if len(d.Patient.CF) == 16 {
		born = tpiBirthplaces[d.Patient.CF[11:15]]
	}
	h := fnv.New64a()
	h.Write([]byte(d.ID()))
	n := h.Sum64()
	author := tpiStaff(d, "ortopedico", tpiGender(d.AuthorCF))
	author.CF = d.AuthorCF
	setID := d.LocalID
	var parentRoot, parentExt string
	if d.Replaces != "" {
		parentRoot, parentExt, _ = strings.Cut(d.Replaces, "^")
		setID = parentExt
	}
	// The revision two days before the card; the first implant eleven
	// years earlier, recorded on a card of its own.
	surgery := d.Time.AddDate(0, 0, -2).Truncate(time.Hour).Add(-3 * time.Hour)
	first := surgery.AddDate(-11, -3, 0)
	if lo := d.Patient.BirthDate; first.Before(lo) {
		first = lo.Add(surgery.Sub(lo) / 2)
	}
	lot := func(k uint64) string { return fmt.Sprintf("L%d%05d", surgery.Year()%100, (n>>k)%100000) }
	udi := func(gtin, l string) string { return "(01)" + gtin + "(10)" + l }
	devices := []tpiDevice{
		{Ref: "dev-1", Name: "Coppa acetabolare da revisione in titanio poroso, diametro 54 mm", Model: "Acetabolo Sintetico RV-54",
			Lot: lot(0), Implanted: ts(surgery.Add(40 * time.Minute))},
		{Ref: "dev-2", Name: "Inserto acetabolare in polietilene reticolato, 36 mm", Model: "Inserto Sintetico PX-36",
			Lot: lot(17), Implanted: ts(surgery.Add(55 * time.Minute))},
		{Ref: "dev-3", Name: "Coppa acetabolare press-fit, diametro 52 mm (primo impianto)", Model: "Acetabolo Sintetico PF-52",
			Lot: fmt.Sprintf("L%d%05d", first.Year()%100, (n>>34)%100000), Implanted: ts(first), Explanted: ts(surgery.Add(25 * time.Minute)),
			PreviousCard: fmt.Sprintf("TPI-%d-%06d", first.Year(), n%1000000)},
	}
	for i := range devices {
		devices[i].UDI = udi(fmt.Sprintf("0800000000%03d%d", 101+i, i), devices[i].Lot)
	}
	data := map[string]any{
		"D": d, "TS": ts(d.Time), "Birth": d.Patient.BirthDate.Format("20060102"), "SetID": setID,
		"ParentRoot": parentRoot, "ParentExt": parentExt, "Home": home, "Born": born,
		"Street": fmt.Sprintf("Via della Prova %d", 1+n%180), "Phone": fmt.Sprintf("%07d", n%10000000),
		"Author": author, "Surgery": ts(surgery), "SurgeryEnd": ts(surgery.Add(2 * time.Hour)),
		"Admission": ts(surgery.AddDate(0, 0, -1)), "Devices": devices, "Maker": tpiCapitals["080"],
	}
	var b bytes.Buffer
	if err := tpiTemplate.Execute(&b, data); err != nil {
		panic(fmt.Sprintf("synth: TPI template: %v", err)) // a bug, not input
	}
	return b.Bytes()
}

var tpiTemplate = template.Must(template.New("TPI").Funcs(template.FuncMap{
	"x":  xmlText,
	"at": func(use string, p tpiPlace, street string) tpiAddr { return tpiAddr{use, p, street} },
}).Parse(`
{{- define "addr"}}<addr use="{{.Use}}"><country>100</country><state>{{.P.Region}}</state><county>{{.P.Prov}}</county><city>{{x .P.City}}</city><censusTract>{{.P.Istat}}</censusTract><streetAddressLine>{{x .Street}}</streetAddressLine></addr>{{end}}
{{- define "org"}}<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Presidio ospedaliero sintetico {{x .D.Org}}</name>
				<telecom use="WP" value="tel:+39060{{.Phone}}"/>
				{{template "addr" (at "WP" .Home "Piazza del Collaudo 3")}}{{end -}}
<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="2.16.840.1.113883.2.9.10.1.17.1" extension="1.0"/>
	<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .D.LocalID}}" assigningAuthorityName="Documento sintetico"/>
	<code code="101881-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Implant card"/>
	<title>Tessera Portatore di Impianto</title>
	<effectiveTime value="{{.TS}}"/>
	<confidentialityCode code="{{x .D.Confidentiality}}" codeSystem="2.16.840.1.113883.5.25"/>
	<languageCode code="it-IT"/>
	<setId root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .SetID}}" assigningAuthorityName="Documento sintetico"/>
	<versionNumber value="{{.D.Version}}"/>
	<recordTarget>
		<patientRole>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .D.Patient.CF}}" assigningAuthorityName="MEF"/>
			{{template "addr" (at "H" .Home .Street)}}
			<telecom use="MC" value="tel:+39333{{.Phone}}"/>
			<patient>
				<name><family>{{x .D.Patient.Family}}</family><given>{{x .D.Patient.Given}}</given></name>
				<administrativeGenderCode code="{{x .D.Patient.Gender}}" codeSystem="2.16.840.1.113883.5.1" codeSystemName="HL7 AdministrativeGender"/>
				<birthTime value="{{.Birth}}"/>
				<birthplace><place><addr><country>100</country>{{with .Born}}{{if .City}}<state>{{.Region}}</state><county>{{.Prov}}</county><city>{{x .City}}</city><censusTract>{{.Istat}}</censusTract>{{end}}{{end}}</addr></place></birthplace>
			</patient>
		</patientRole>
	</recordTarget>
	<author>
		<time value="{{.TS}}"/>
		<assignedAuthor>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Author.CF}}" assigningAuthorityName="MEF"/>
			<telecom use="WP" value="mailto:ortopedia@example.org"/>
			<assignedPerson><name><prefix>{{.Author.Prefix}}</prefix><family>{{x .Author.Family}}</family><given>{{x .Author.Given}}</given></name></assignedPerson>
			<representedOrganization>
				{{template "org" .}}
			</representedOrganization>
		</assignedAuthor>
	</author>
	<custodian>
		<assignedCustodian>
			<representedCustodianOrganization>
				{{template "org" .}}
			</representedCustodianOrganization>
		</assignedCustodian>
	</custodian>
	<legalAuthenticator>
		<time value="{{.TS}}"/>
		<signatureCode code="S"/>
		<assignedEntity>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Author.CF}}" assigningAuthorityName="MEF"/>
			<assignedPerson><name><prefix>{{.Author.Prefix}}</prefix><family>{{x .Author.Family}}</family><given>{{x .Author.Given}}</given></name></assignedPerson>
		</assignedEntity>
	</legalAuthenticator>
{{- if .ParentExt}}
	<relatedDocument typeCode="RPLC">
		<parentDocument><id root="{{x .ParentRoot}}" extension="{{x .ParentExt}}"/></parentDocument>
	</relatedDocument>
{{- end}}
	<componentOf>
		<encompassingEncounter>
			<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.99.6" extension="RIC-{{x .D.LocalID}}"/>
			<effectiveTime><low value="{{.Admission}}"/></effectiveTime>
			<location>
				<healthCareFacility>
					<id root="2.16.840.1.113883.2.9.4.1.6" extension="{{x .D.Org}}-ORT" assigningAuthorityName="Ministero della Salute"/>
					<location><name>UOC Ortopedia e traumatologia (sintetica)</name></location>
				</healthCareFacility>
			</location>
		</encompassingEncounter>
	</componentOf>
	<component>
		<structuredBody>
			<component>
				<section ID="impianto">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.733"/>
					<code code="74720-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Dispositivi impiantati"/>
					<title>Impianto dispositivo</title>
					<text>
						<paragraph ID="intervento">Revisione della componente acetabolare di protesi totale dell'anca destra per mobilizzazione asettica. Documento sintetico: nessun dato reale.</paragraph>
						<list>
							{{- range .Devices}}
							<item><content ID="{{.Ref}}">{{x .Name}}, modello {{x .Model}}, lotto {{x .Lot}}{{if .Explanted}} - espiantata{{else}} - impiantata{{end}}</content></item>
							{{- end}}
						</list>
					</text>
					<entry>
						<organizer classCode="CLUSTER" moodCode="EVN">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.757"/>
							<code code="74720-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Dispositivi impiantati"/>
							<text><reference value="#intervento"/></text>
							<statusCode code="completed"/>
							<effectiveTime><low value="{{.Surgery}}"/><high value="{{.SurgeryEnd}}"/></effectiveTime>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.758"/>
									<code code="20228-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Sede anatomica"/>
									<value xsi:type="CD" code="24136001" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Articolazione dell'anca">
										<qualifier>
											<name code="272741003" codeSystem="2.16.840.1.113883.6.96" displayName="Lateralità"/>
											<value code="24028007" codeSystem="2.16.840.1.113883.6.96" displayName="Destra"/>
										</qualifier>
									</value>
								</observation>
							</component>
							{{- range .Devices}}
							<component>
								<supply classCode="SPLY" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.753"/>
									<id root="2.16.840.1.113883.2.9.2.{{x $.D.Region}}.4.99.7" extension="{{x $.D.LocalID}}-{{.Ref}}"/>
									<code code="P0908" codeSystem="2.16.840.1.113883.2.9.6.1.48" codeSystemName="CND" displayName="Protesi d'anca"/>
									<text><reference value="#{{.Ref}}"/></text>
									<statusCode code="completed"/>
									<effectiveTime xsi:type="IVL_TS"><low value="{{.Implanted}}"/>{{if .Explanted}}<high value="{{.Explanted}}"/>{{end}}</effectiveTime>
									<product>
										<manufacturedProduct classCode="MANU">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.754"/>
											<manufacturedMaterial classCode="MMAT" determinerCode="KIND">
												<templateId root="2.16.840.1.113883.3.1937.777.63.10.755"/>
												<name>{{x .Name}}</name>
												<lotNumberText>{{x .Lot}}</lotNumberText>
											</manufacturedMaterial>
											<manufacturerOrganization>
												<name>Ortopedia Sintetica S.p.A.</name>
												<telecom use="WP" value="tel:+39051000000"/>
												{{template "addr" (at "WP" $.Maker "Via dell'Industria di Prova 10")}}
											</manufacturerOrganization>
										</manufacturedProduct>
									</product>
									<participant typeCode="LOC">
										<participantRole classCode="SDLOC">
											<playingEntity classCode="PLC"><name>Blocco operatorio, sala 2 (sintetica)</name></playingEntity>
										</participantRole>
									</participant>
									<participant typeCode="DEV">
										<participantRole classCode="MANU">
											<id root="2.16.840.1.113883.3.3719" extension="{{x .UDI}}" assigningAuthorityName="GS1"/>
											<playingDevice>
												<code code="P0908" codeSystem="2.16.840.1.113883.2.9.6.1.48" codeSystemName="CND" displayName="Protesi d'anca"/>
												<manufacturerModelName>{{x .Model}}</manufacturerModelName>
											</playingDevice>
										</participantRole>
									</participant>
									{{- if .PreviousCard}}
									<entryRelationship typeCode="REFR">
										<act classCode="ACT" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.677"/>
											<code code="55107-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Riferimento a documento"/>
											<reference typeCode="REFR">
												<externalDocument classCode="DOCCLIN" moodCode="EVN">
													<id root="2.16.840.1.113883.2.9.2.{{x $.D.Region}}.4.4" extension="{{x .PreviousCard}}"/>
												</externalDocument>
											</reference>
										</act>
									</entryRelationship>
									{{- end}}
									<entryRelationship typeCode="COMP">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.761"/>
											<code code="104959-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato del dispositivo"/>
											{{- if .Explanted}}
											<value xsi:type="CD" code="LA9634-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Assente (espiantato)"/>
											{{- else}}
											<value xsi:type="CD" code="LA9633-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Presente (impiantato)"/>
											{{- end}}
										</observation>
									</entryRelationship>
								</supply>
							</component>
							{{- end}}
						</organizer>
					</entry>
				</section>
			</component>
		</structuredBody>
	</component>
</ClinicalDocument>
`))
