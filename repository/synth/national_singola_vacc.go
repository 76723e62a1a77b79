package synth

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"text/template"
	"time"
)

// The three vaccination documents (singola_VACC, the record of one
// vaccination; certificato_VACC, the vaccination certificate;
// Lettera_VACC, the invitation letter) share here their header, the
// places they name, the vaccines and the Italian vaccination calendar
// their bodies are drawn from: each document is a plausible moment of the
// patient's vaccination history at d.Time.

func init() { registerNational("singola_VACC", buildSingolaVACC) }

// vaccRome is the offset the documents' times carry.
var vaccRome = time.FixedZone("", 3600)

// vaccPlace is an Italian municipality: name, province, ISTAT code, region.
type vaccPlace struct{ City, County, Istat, Region string }

// vaccRegions are the regional capitals, by FSE region code.
var vaccRegions = map[string]vaccPlace{
	"010": {"Torino", "TO", "001272", "010"}, "020": {"Aosta", "AO", "007003", "020"},
	"030": {"Milano", "MI", "015146", "030"}, "041": {"Bolzano", "BZ", "021008", "041"},
	"042": {"Trento", "TN", "022205", "042"}, "050": {"Venezia", "VE", "027042", "050"},
	"060": {"Trieste", "TS", "032006", "060"}, "070": {"Genova", "GE", "010025", "070"},
	"080": {"Bologna", "BO", "037006", "080"}, "090": {"Firenze", "FI", "048017", "090"},
	"100": {"Perugia", "PG", "054039", "100"}, "110": {"Ancona", "AN", "042002", "110"},
	"120": {"Roma", "RM", "058091", "120"}, "130": {"L'Aquila", "AQ", "066049", "130"},
	"140": {"Campobasso", "CB", "070006", "140"}, "150": {"Napoli", "NA", "063049", "150"},
	"160": {"Bari", "BA", "072006", "160"}, "170": {"Potenza", "PZ", "076063", "170"},
	"180": {"Catanzaro", "CZ", "079023", "180"}, "190": {"Palermo", "PA", "082053", "190"},
	"200": {"Cagliari", "CA", "092009", "200"},
}

// vaccCadastral are the places NewPatient draws codici fiscali from, by
// cadastral code.
var vaccCadastral = map[string]vaccPlace{
	"H501": vaccRegions["120"], "F205": vaccRegions["030"], "F839": vaccRegions["150"],
	"A662": vaccRegions["160"], "L219": vaccRegions["010"],
}

// vaccResidence is the region's capital (Roma for a region not listed).
func vaccResidence(region string) vaccPlace {
	if p, ok := vaccRegions[region]; ok {
		return p
	}
	return vaccRegions["120"]
}

// vaccBirthplace reads the place of birth from the codice fiscale (the
// residence when the code names a place not listed).
func vaccBirthplace(p Patient, region string) vaccPlace {
	if len(p.CF) == 16 {
		if pl, ok := vaccCadastral[p.CF[11:15]]; ok {
			return pl
		}
	}
	return vaccResidence(region)
}

// vaccCode is a coded value.
type vaccCode struct{ Code, System, SystemName, Display string }

func vaccICD9(code, display string) vaccCode {
	return vaccCode{code, "2.16.840.1.113883.6.103", "ICD-9-CM", display}
}

// Diseases prevented, conditions and reactions, in ICD-9-CM.
var (
	vaccDifterite   = vaccICD9("032.9", "Difterite, non specificata")
	vaccTetano      = vaccICD9("037", "Tetano")
	vaccPertosse    = vaccICD9("033.9", "Pertosse da organismo non specificato")
	vaccPolio       = vaccICD9("045.90", "Poliomielite acuta non specificata")
	vaccEpatiteB    = vaccICD9("070.30", "Epatite virale B acuta senza menzione di coma epatico")
	vaccHib         = vaccICD9("041.5", "Infezione da Haemophilus influenzae")
	vaccPneumococco = vaccICD9("481", "Polmonite pneumococcica")
	vaccMorbillo    = vaccICD9("055.9", "Morbillo senza menzione di complicazioni")
	vaccParotite    = vaccICD9("072.9", "Parotite epidemica senza menzione di complicazioni")
	vaccRosolia     = vaccICD9("056.9", "Rosolia senza menzione di complicazioni")
	vaccVaricellaD  = vaccICD9("052.9", "Varicella senza menzione di complicazioni")
	vaccHPVInf      = vaccICD9("079.4", "Infezione da papillomavirus umano")
	vaccMeningo     = vaccICD9("036.0", "Meningite meningococcica")
	vaccInfluenzaD  = vaccICD9("487.1", "Influenza con altre manifestazioni respiratorie")
	vaccZosterD     = vaccICD9("053.9", "Herpes zoster senza menzione di complicazioni")
	vaccAsma        = vaccICD9("493.90", "Asma, non specificata")
	vaccFebbre      = vaccICD9("780.6", "Febbre")
)

// Risk categories of the Anagrafe vaccinale (2.16.840.1.113883.2.9.6.1.56.2):
// illustrative codes, the value set is not published with the schematrons.
var (
	vaccRiskElderly = vaccCode{"01", "2.16.840.1.113883.2.9.6.1.56.2", "Categorie a rischio", "Soggetti di età pari o superiore a 65 anni"}
	vaccRiskChronic = vaccCode{"05", "2.16.840.1.113883.2.9.6.1.56.2", "Categorie a rischio", "Soggetti affetti da patologie croniche"}
)

// vaccVaccine is a vaccine as the calendar offers it: the medicinal
// product (AIC, an illustrative number), its ATC class, the diseases it
// prevents, how it is given and how long one dose covers.
type vaccVaccine struct {
	Name        string
	ATC         vaccCode
	AIC         vaccCode
	Diseases    []vaccCode
	Subcutan    bool
	CoverMonths int
}

func vaccProduct(aic, atc, atcName, name string, diseases ...vaccCode) *vaccVaccine {
	return &vaccVaccine{
		Name:     name,
		ATC:      vaccCode{atc, "2.16.840.1.113883.6.73", "ATC", atcName},
		AIC:      vaccCode{aic, "2.16.840.1.113883.2.9.6.1.5", "AIC", name + " (prodotto di prova) 1 siringa preriempita"},
		Diseases: diseases,
	}
}

var (
	vaccEsavalente = vaccProduct("900000013", "J07CA09", "difterite-haemophilus influenzae B-pertosse-poliomielite-tetano-epatite B",
		"Vaccino esavalente DTPa-IPV-HBV-Hib", vaccDifterite, vaccTetano, vaccPertosse, vaccPolio, vaccEpatiteB, vaccHib)
	vaccPCV = vaccProduct("900000025", "J07AL02", "pneumococco, antigene polisaccaridico purificato coniugato",
		"Vaccino pneumococcico coniugato", vaccPneumococco)
	vaccMPRV = func() *vaccVaccine {
		v := vaccProduct("900000037", "J07BD54", "morbillo, combinazioni con parotite, rosolia e varicella, vivo attenuato",
			"Vaccino morbillo-parotite-rosolia-varicella (MPRV)", vaccMorbillo, vaccParotite, vaccRosolia, vaccVaricellaD)
		v.Subcutan = true
		return v
	}()
	vaccDTPaIPV = vaccProduct("900000049", "J07CA02", "difterite-pertosse-poliomielite-tetano",
		"Vaccino difterite-tetano-pertosse-poliomielite (DTPa-IPV)", vaccDifterite, vaccTetano, vaccPertosse, vaccPolio)
	vaccHPV = vaccProduct("900000052", "J07BM03", "papillomavirus (tipi umani 6, 11, 16, 18, 31, 33, 45, 52, 58)",
		"Vaccino papillomavirus 9-valente", vaccHPVInf)
	vaccMenACWY = vaccProduct("900000064", "J07AH08", "meningococco tetravalente A, C, Y, W-135, antigene polisaccaridico purificato coniugato",
		"Vaccino meningococcico ACWY coniugato", vaccMeningo)
	vaccDTPa = func() *vaccVaccine {
		v := vaccProduct("900000076", "J07AJ52", "pertosse, antigene purificato, combinazioni con tossoidi",
			"Vaccino difterite-tetano-pertosse (dTpa) per adulti", vaccDifterite, vaccTetano, vaccPertosse)
		v.CoverMonths = 120
		return v
	}()
	vaccInfluenza = func() *vaccVaccine {
		v := vaccProduct("900000088", "J07BB02", "influenza, inattivato, split virus o antigene di superficie",
			"Vaccino antinfluenzale quadrivalente inattivato", vaccInfluenzaD)
		v.CoverMonths = 6
		return v
	}()
	vaccZoster = vaccProduct("900000090", "J07BK03", "zoster, antigene purificato",
		"Vaccino herpes zoster ricombinante adiuvato", vaccZosterD)
	vaccVaricella = func() *vaccVaccine {
		v := vaccProduct("900000102", "J07BK01", "varicella, vivo attenuato", "Vaccino varicella vivo attenuato", vaccVaricellaD)
		v.Subcutan = true
		return v
	}()
)

// vaccDose is one dose of the calendar: the vaccine, its number, when it
// is due, and when the next dose of the same vaccine is (zero if none).
type vaccDose struct {
	V    *vaccVaccine
	N    int
	When time.Time
	Next time.Time
}

// vaccChronic says whether the patient has a chronic condition (asthma)
// that calls for the influenza vaccine every year from 18: one patient in
// three, by the codice fiscale.
func vaccChronic(p Patient) bool {
	h := fnv.New64a()
	h.Write([]byte(p.CF + "#chronic"))
	return rand.New(rand.NewPCG(h.Sum64(), 0)).IntN(3) == 0
}

// vaccCalendar is the patient's calendar (after the Piano nazionale di
// prevenzione vaccinale) from birth to until, in order of date; Next is
// filled in for every dose whose next dose is due before until.
func vaccCalendar(p Patient, until time.Time) []vaccDose {
	birth := p.BirthDate
	var out []vaccDose
	at := func(months int) time.Time {
		b := birth.AddDate(0, months, 0)
		return time.Date(b.Year(), b.Month(), b.Day(), 10, 0, 0, 0, vaccRome)
	}
	add := func(when time.Time, v *vaccVaccine, n int) {
		if !when.After(until) {
			out = append(out, vaccDose{V: v, N: n, When: when})
		}
	}
	add(at(3), vaccEsavalente, 1)
	add(at(3), vaccPCV, 1)
	add(at(5), vaccEsavalente, 2)
	add(at(5), vaccPCV, 2)
	add(at(11), vaccEsavalente, 3)
	add(at(11), vaccPCV, 3)
	add(at(13), vaccMPRV, 1)
	add(at(6*12), vaccDTPaIPV, 4)
	add(at(6*12), vaccMPRV, 2)
	add(at(12*12), vaccHPV, 1)
	add(at(12*12+6), vaccHPV, 2)
	add(at(14*12), vaccDTPaIPV, 5)
	add(at(14*12), vaccMenACWY, 1)
	for y, n := 24, 6; birth.AddDate(y, 0, 0).Before(until); y, n = y+10, n+1 {
		add(at(y*12), vaccDTPa, n)
	}
	add(at(65*12), vaccPCV, 4)
	add(at(65*12), vaccZoster, 1)
	add(at(65*12+2), vaccZoster, 2)
	// The influenza campaign opens each 1 November for those of 60 and
	// over, and for the chronically ill from 18.
	from := 60
	if vaccChronic(p) {
		from = 18
	}
	for y := birth.Year() + from; y <= until.Year(); y++ {
		if when := time.Date(y, 11, 1, 10, 0, 0, 0, vaccRome); !when.Before(at(from * 12)) {
			add(when, vaccInfluenza, 1)
		}
	}
	slices.SortStableFunc(out, func(a, b vaccDose) int { return a.When.Compare(b.When) })
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].V == out[i].V {
				out[i].Next = out[j].When
				break
			}
		}
	}
	return out
}

// vaccDue is the group of doses due together most recently by t (the
// first ones when none is due yet).
func vaccDue(cal []vaccDose, t time.Time) []vaccDose {
	if len(cal) == 0 {
		return nil
	}
	last := cal[0].When
	for _, c := range cal {
		if !c.When.After(t) {
			last = c.When
		}
	}
	var out []vaccDose
	for _, c := range cal {
		if c.When.Equal(last) {
			out = append(out, c)
		}
	}
	return out
}

// vaccHash is a number drawn from the document's set (its id, or the id
// of the document it replaces): the same document always makes the same
// choices, and its replacements make them too.
func vaccHash(d Document, salt string) uint64 {
	set := d.ID()
	if d.Replaces != "" {
		set = d.Replaces
	}
	h := fnv.New64a()
	h.Write([]byte(set + "#" + salt))
	return rand.New(rand.NewPCG(h.Sum64(), 0)).Uint64() // FNV's low bits mix poorly
}

// vaccHeader is what the three documents' headers hold.
type vaccHeader struct {
	TemplateRoot, TemplateExt string
	Code, CodeDisplay, Title  string
	Region, LocalID, SetID    string
	Version                   int
	ParentRoot, ParentExt     string
	Time                      time.Time
	Conf                      string
	Patient                   Patient
	Street                    string
	Home, BirthPlace          vaccPlace
	AuthorCF, Org, OrgName    string
	CuranteCF, Curante        string
	// Lettera_VACC's documentationOf/serviceEvent.
	ServiceCode, ServiceDisplay string
}

func vaccNewHeader(d Document) vaccHeader {
	h := vaccHeader{
		Region: d.Region, LocalID: d.LocalID, SetID: d.LocalID, Version: 1, Time: d.Time, Conf: d.Confidentiality,
		Patient: d.Patient, Home: vaccResidence(d.Region), BirthPlace: vaccBirthplace(d.Patient, d.Region),
		AuthorCF: d.AuthorCF, Org: d.Org, OrgName: "Struttura sintetica " + d.Org,
	}
	// A replacement names the document it replaces and keeps its set; a
	// document that replaces none is a first version.
	if d.Replaces != "" {
		h.Version = max(d.Version, 2)
		h.ParentRoot, h.ParentExt, _ = strings.Cut(d.Replaces, "^")
		h.SetID = h.ParentExt
	}
	streets := []string{"Via della Prova", "Via dei Collaudi", "Viale degli Esempi", "Piazza del Campione", "Via Sintetica"}
	n := vaccHash(d, "street")
	h.Street = fmt.Sprintf("%s %d", streets[n%uint64(len(streets))], 1+n/8%120)
	rng := rand.New(rand.NewPCG(vaccHash(d, "curante"), 7))
	h.CuranteCF = NewPatient(rng).CF
	h.Curante = "Medico di medicina generale"
	if d.Time.Sub(d.Patient.BirthDate) < 14*365*24*time.Hour {
		h.Curante = "Pediatra di libera scelta"
	}
	return h
}

var vaccTemplates = template.Must(template.New("vacc").Funcs(template.FuncMap{
	"x":   xmlText,
	"ts":  func(t time.Time) string { return t.In(vaccRome).Format("20060102150405-0700") },
	"day": func(t time.Time) string { return t.In(vaccRome).Format("02/01/2006") },
	"hm":  func(t time.Time) string { return t.In(vaccRome).Format("15:04") },
	"birth": func(t time.Time) string {
		return t.Format("20060102")
	},
	"gender": func(g string) string {
		if g == "F" {
			return "Femmina"
		}
		return "Maschio"
	},
	"inc": func(i int) int { return i + 1 },
	"dict": func(c vaccCode, ref string, i int) vaccDisease {
		return vaccDisease{c, fmt.Sprintf("%s-m%d", ref, i+1)}
	},
}).Parse(`
{{- define "addr"}}<country>100</country><state>{{x .Region}}</state><county>{{x .County}}</county><city>{{x .City}}</city><censusTract>{{x .Istat}}</censusTract>{{end}}

{{- define "header" -}}
<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="{{.TemplateRoot}}" extension="{{.TemplateExt}}"/>
	<id root="2.16.840.1.113883.2.9.2.{{x .Region}}.4.4" extension="{{x .LocalID}}" assigningAuthorityName="Documento sintetico"/>
	<code code="{{.Code}}" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="{{x .CodeDisplay}}"/>
	<title>{{x .Title}}</title>
	<effectiveTime value="{{ts .Time}}"/>
	<confidentialityCode code="{{x .Conf}}" codeSystem="2.16.840.1.113883.5.25" codeSystemName="HL7 Confidentiality"/>
	<languageCode code="it-IT"/>
	<setId root="2.16.840.1.113883.2.9.2.{{x .Region}}.4.4" extension="{{x .SetID}}" assigningAuthorityName="Documento sintetico"/>
	<versionNumber value="{{.Version}}"/>
	<recordTarget>
		<patientRole classCode="PAT">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Patient.CF}}" assigningAuthorityName="MEF"/>
			<addr use="H">{{template "addr" .Home}}<streetAddressLine>{{x .Street}}</streetAddressLine></addr>
			<telecom use="MC" value="tel:+390000000000"/>
			<patient>
				<name><family>{{x .Patient.Family}}</family><given>{{x .Patient.Given}}</given></name>
				<administrativeGenderCode code="{{x .Patient.Gender}}" codeSystem="2.16.840.1.113883.5.1" codeSystemName="HL7 AdministrativeGender" displayName="{{gender .Patient.Gender}}"/>
				<birthTime value="{{birth .Patient.BirthDate}}"/>
				<birthplace>
					<place>
						<addr>{{template "addr" .BirthPlace}}</addr>
					</place>
				</birthplace>
			</patient>
		</patientRole>
	</recordTarget>
	<author>
		<time value="{{ts .Time}}"/>
		<assignedAuthor classCode="ASSIGNED">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .AuthorCF}}" assigningAuthorityName="MEF"/>
			<telecom use="WP" value="mailto:vaccinazioni@struttura-sintetica.example"/>
			<assignedPerson><name><family>Medico</family><given>Sintetico</given></name></assignedPerson>
			<representedOrganization>
				<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>{{x .OrgName}} - Servizio vaccinazioni</name>
				<telecom use="WP" value="tel:+390000000001"/>
				<addr use="WP">{{template "addr" .Home}}<streetAddressLine>Via dell'Ambulatorio 1</streetAddressLine></addr>
			</representedOrganization>
		</assignedAuthor>
	</author>
	<custodian>
		<assignedCustodian>
			<representedCustodianOrganization>
				<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>{{x .OrgName}}</name>
				<telecom use="WP" value="tel:+390000000002"/>
				<addr use="WP">{{template "addr" .Home}}<streetAddressLine>Via dell'Ambulatorio 1</streetAddressLine></addr>
			</representedCustodianOrganization>
		</assignedCustodian>
	</custodian>
	<legalAuthenticator>
		<time value="{{ts .Time}}"/>
		<signatureCode code="S"/>
		<assignedEntity>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .AuthorCF}}" assigningAuthorityName="MEF"/>
			<assignedPerson><name><prefix>Dott.</prefix><family>Medico</family><given>Sintetico</given></name></assignedPerson>
		</assignedEntity>
	</legalAuthenticator>
	<participant typeCode="IND">
		<associatedEntity classCode="PROV">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .CuranteCF}}" assigningAuthorityName="MEF"/>
			<associatedPerson><name><family>Curante</family><given>{{x .Curante}}</given></name></associatedPerson>
		</associatedEntity>
	</participant>
{{- if .ServiceCode}}
	<documentationOf>
		<serviceEvent classCode="ACT" moodCode="EVN">
			<code code="{{.ServiceCode}}" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="{{x .ServiceDisplay}}"/>
			<effectiveTime value="{{ts .Time}}"/>
		</serviceEvent>
	</documentationOf>
{{- end}}
{{- if .ParentExt}}
	<relatedDocument typeCode="RPLC">
		<parentDocument>
			<id root="{{x .ParentRoot}}" extension="{{x .ParentExt}}" assigningAuthorityName="Documento sintetico"/>
		</parentDocument>
	</relatedDocument>
{{- end}}
{{- end}}

{{- define "disease"}}
							<entryRelationship typeCode="RSON" inversionInd="false">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.11.4.9"/>
									<code code="75323-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Condition"/>
									<statusCode code="completed"/>
									<value xsi:type="CD" code="{{.C.Code}}" codeSystem="{{.C.System}}" codeSystemName="{{.C.SystemName}}" displayName="{{x .C.Display}}">
										<originalText><reference value="#{{.Ref}}"/></originalText>
									</value>
								</observation>
							</entryRelationship>
{{- end}}

{{- define "coded"}}code="{{x .Code}}" codeSystem="{{.System}}" codeSystemName="{{x .SystemName}}" displayName="{{x .Display}}"{{end}}

{{- define "sbadm"}}
						<substanceAdministration classCode="SBADM" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.11.4.{{if .Cancelled}}2{{else}}1{{end}}"/>
							<text><reference value="#{{.Ref}}"/></text>
							<statusCode code="{{if .Cancelled}}cancelled{{else}}completed{{end}}"/>
							<effectiveTime value="{{ts .When}}"/>
{{- if not .Cancelled}}
{{- if .V.Subcutan}}
							<routeCode code="SQ" codeSystem="2.16.840.1.113883.5.112" codeSystemName="HL7 RouteOfAdministration" displayName="Injection, subcutaneous"/>
{{- else}}
							<routeCode code="IM" codeSystem="2.16.840.1.113883.5.112" codeSystemName="HL7 RouteOfAdministration" displayName="Injection, intramuscular"/>
{{- end}}
{{- if .Infant}}
							<approachSiteCode code="LT" codeSystem="2.16.840.1.113883.5.1052" codeSystemName="HL7 ActSite" displayName="left thigh"/>
{{- else}}
							<approachSiteCode code="LD" codeSystem="2.16.840.1.113883.5.1052" codeSystemName="HL7 ActSite" displayName="left deltoid"/>
{{- end}}
							<doseQuantity value="0.5" unit="mL"/>
{{- end}}
							<consumable typeCode="CSM">
								<manufacturedProduct classCode="MANU">
									<manufacturedMaterial>
{{- if .UnknownProduct}}
										<code nullFlavor="UNK"><originalText>{{x .V.Name}}</originalText></code>
{{- else}}
										<code {{template "coded" .V.AIC}}>
											<translation {{template "coded" .V.ATC}}/>
										</code>
{{- end}}
										<name>{{x .V.Name}}</name>
{{- if .Lot}}
										<lotNumberText>{{x .Lot}}</lotNumberText>
{{- end}}
									</manufacturedMaterial>
{{- if not .Cancelled}}
									<manufacturerOrganization>
										<name>Azienda farmaceutica sintetica S.p.A.</name>
									</manufacturerOrganization>
{{- end}}
								</manufacturedProduct>
							</consumable>
{{- if not .Cancelled}}
							<participant typeCode="LOC">
								<participantRole classCode="ROL">
									<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .Org}}" assigningAuthorityName="Ministero della Salute"/>
									<playingEntity classCode="PLC"><name>{{x .OrgName}} - Ambulatorio vaccinale</name></playingEntity>
								</participantRole>
							</participant>
{{- end}}
{{- if .Dose}}
							<entryRelationship typeCode="SUBJ" inversionInd="true">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.11.4.3"/>
									<code code="30973-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Dose number"/>
									<statusCode code="completed"/>
									<value xsi:type="INT" value="{{.Dose}}"/>
								</observation>
							</entryRelationship>
{{- end}}
{{- if not .CoverUntil.IsZero}}
							<entryRelationship typeCode="REFR" inversionInd="false">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.11.4.4"/>
									<code code="59778-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Date when overdue for immunization"/>
									<statusCode code="completed"/>
									<value xsi:type="IVL_TS"><low value="{{ts .When}}"/><high value="{{ts .CoverUntil}}"/></value>
								</observation>
							</entryRelationship>
{{- end}}
{{- if not .Next.IsZero}}
							<entryRelationship typeCode="REFR" inversionInd="false">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.11.4.4"/>
									<code code="30980-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Date vaccine due"/>
									<statusCode code="completed"/>
									<value xsi:type="TS" value="{{ts .Next}}"/>
								</observation>
							</entryRelationship>
{{- end}}
{{- with .Risk}}
							<entryRelationship typeCode="RSON" inversionInd="false">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.11.4.5"/>
									<code code="95715-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Risk category"/>
									<statusCode code="completed"/>
									<value xsi:type="CD" {{template "coded" .}}/>
								</observation>
							</entryRelationship>
{{- end}}
{{- if .Condition}}
							<entryRelationship typeCode="RSON" inversionInd="false">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.11.4.6"/>
									<code code="59785-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Indication for immunization"/>
									<statusCode code="completed"/>
									<value xsi:type="CD" {{template "coded" .Condition}}>
										<originalText><reference value="#{{.Ref}}-cond"/></originalText>
									</value>
								</observation>
							</entryRelationship>
{{- end}}
{{- with .Reaction}}
							<entryRelationship typeCode="CAUS" inversionInd="false">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.11.4.8"/>
									<code code="31044-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Immunization reaction"/>
									<statusCode code="completed"/>
									<effectiveTime><low value="{{ts .Low}}"/><high value="{{ts .High}}"/></effectiveTime>
									<value xsi:type="CD" {{template "coded" .C}}/>
								</observation>
							</entryRelationship>
{{- end}}
{{- with .Reason}}
							<entryRelationship typeCode="RSON" inversionInd="false">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.11.4.10"/>
									<code code="85714-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Immunization not given reason"/>
									<statusCode code="completed"/>
{{- if not .Low.IsZero}}
									<effectiveTime><low value="{{ts .Low}}"/><high value="{{ts .High}}"/></effectiveTime>
{{- end}}
									<value xsi:type="CD" {{template "coded" .C}}/>
								</observation>
							</entryRelationship>
{{- end}}
{{- if .Immunity}}
							<entryRelationship typeCode="RSON" inversionInd="false">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.11.4.7"/>
									<code code="59784-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Disease with presumed immunity"/>
									<statusCode code="completed"/>
									<value xsi:type="CD" {{template "coded" .Immunity}}>
										<originalText><reference value="#{{.Ref}}-imm"/></originalText>
									</value>
								</observation>
							</entryRelationship>
{{- end}}
{{- $ref := .Ref}}
{{- range $i, $c := .V.Diseases}}{{template "disease" (dict $c $ref $i)}}{{end}}
						</substanceAdministration>
{{- end}}

{{- define "vaccdoc"}}{{template "header" .H}}
	<component>
		<structuredBody>
			<component>
				<section>
					<templateId root="{{.SectionTemplate}}"/>
					<code code="11369-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="History of Immunization Narrative"/>
					<title>{{x .SectionTitle}}</title>
					<text>
						<paragraph>{{x .Intro}}</paragraph>
						<table border="1">
							<thead><tr><th>Data</th><th>Vaccino</th><th>Esito</th><th>Dose</th><th>Malattie</th><th>Lotto</th><th>Note</th></tr></thead>
							<tbody>
{{- range .E}}
								<tr ID="{{.Ref}}"><td>{{day .When}}</td><td>{{x .V.Name}}</td><td>{{if .Cancelled}}{{x .Outcome}}{{else}}somministrato ({{if .V.Subcutan}}sottocute{{else}}intramuscolo{{end}}, {{if .Infant}}coscia sinistra{{else}}deltoide sinistro{{end}}, 0,5 mL){{end}}</td><td>{{if .Dose}}{{.Dose}}{{end}}</td><td>{{$ref := .Ref}}{{range $i, $c := .V.Diseases}}{{if $i}}, {{end}}<content ID="{{$ref}}-m{{inc $i}}">{{x $c.Display}}</content>{{end}}</td><td>{{x .Lot}}</td><td>{{x .Note}}{{if .Condition}} <content ID="{{.Ref}}-cond">Indicazione: {{x .Condition.Display}}.</content>{{end}}{{if .Immunity}} <content ID="{{.Ref}}-imm">Immunità presunta: {{x .Immunity.Display}}.</content>{{end}}</td></tr>
{{- end}}
							</tbody>
						</table>
						<paragraph>Documento sintetico generato per prove: nessun dato reale.</paragraph>
					</text>
{{- range .E}}
					<entry>{{template "sbadm" .}}
					</entry>
{{- end}}
				</section>
			</component>
		</structuredBody>
	</component>
</ClinicalDocument>
{{end}}
`))

// vaccEntry is one substanceAdministration: a dose given (Cancelled
// false) or omitted, deferred or exempted (Cancelled true, with Reason).
type vaccEntry struct {
	Ref            string
	Cancelled      bool
	Outcome, Note  string
	When           time.Time
	V              *vaccVaccine
	Dose           int
	Lot            string
	UnknownProduct bool
	Infant         bool
	Org, OrgName   string
	Next           time.Time
	CoverUntil     time.Time
	Risk           *vaccCode
	Condition      *vaccCode
	Reaction       *vaccTimed
	Reason         *vaccTimed
	Immunity       *vaccCode
}

// vaccTimed is a coded observation with an optional period.
type vaccTimed struct {
	C         vaccCode
	Low, High time.Time
}

// vaccDisease is what the "disease" template takes: a disease and the
// narrative id it refers to.
type vaccDisease struct {
	C   vaccCode
	Ref string
}

// vaccGiven is the entry of a dose given at when.
func vaccGiven(d Document, h vaccHeader, ref string, dose vaccDose, when time.Time) vaccEntry {
	e := vaccEntry{
		Ref: ref, When: when, V: dose.V, Dose: dose.N, Org: h.Org, OrgName: h.OrgName,
		Infant: when.Sub(d.Patient.BirthDate) < 3*365*24*time.Hour, Next: dose.Next,
		Lot: fmt.Sprintf("PRV%05d", vaccHash(d, dose.V.ATC.Code+when.String())%100000),
	}
	if dose.V.CoverMonths > 0 {
		e.CoverUntil = when.AddDate(0, dose.V.CoverMonths, 0)
	}
	// Why the adult is vaccinated: age, or the chronic condition.
	age := when.Sub(d.Patient.BirthDate).Hours() / 24 / 365.25
	adult := dose.V == vaccInfluenza || dose.V == vaccPCV || dose.V == vaccZoster
	switch {
	case adult && age >= 65:
		e.Risk = &vaccRiskElderly
	case adult && age >= 18 && vaccChronic(d.Patient):
		e.Risk = &vaccRiskChronic
	}
	if adult && age >= 18 && vaccChronic(d.Patient) {
		e.Condition = &vaccAsma
	}
	return e
}

// vaccDoc is what the singola and certificato templates take: the
// header and the one section of vaccinations.
type vaccDoc struct {
	H                   vaccHeader
	SectionTemplate     string
	SectionTitle, Intro string
	E                   []vaccEntry
}

func vaccRender(name string, data any) []byte {
	var out bytes.Buffer
	if err := vaccTemplates.ExecuteTemplate(&out, name, data); err != nil {
		panic(fmt.Sprintf("synth: %s template: %v", name, err)) // a bug, not input
	}
	return out.Bytes()
}

// buildSingolaVACC makes a Scheda della singola vaccinazione: the dose
// the calendar last asked of the patient, given half an hour before the
// document (its next dose moved on by as much as it was late); a
// replacement adds the reaction seen after it. One document in four
// records instead a dose not given: deferred for a fever, or exempted for
// a varicella the patient has had (unless a dose against it was given).
func buildSingolaVACC(d Document) []byte {
	h := vaccNewHeader(d)
	h.TemplateRoot, h.TemplateExt = "2.16.840.1.113883.2.9.10.1.11.1.1", "1.1"
	h.Code, h.CodeDisplay, h.Title = "87273-9", "Immunization note", "Scheda della singola vaccinazione"
	cal := vaccCalendar(d.Patient, d.Time.AddDate(30, 0, 0))
	due := vaccDue(cal, d.Time)
	dose := due[vaccHash(d, "dose")%uint64(len(due))]
	hadVaricellaDose := slices.ContainsFunc(cal, func(c vaccDose) bool {
		return c.When.Before(d.Time) && slices.Contains(c.V.Diseases, vaccVaricellaD)
	})
	when := d.Time.Add(-30 * time.Minute)
	if late := when.Sub(dose.When); late > 0 && !dose.Next.IsZero() {
		dose.Next = dose.Next.Add(late)
	}
	variant := vaccHash(d, "variant") % 4
	if variant == 1 && hadVaricellaDose {
		variant = 0
	}
	var e vaccEntry
	switch variant {
	case 0: // deferred
		e = vaccGiven(d, h, "vac1", dose, when)
		e.Cancelled, e.Outcome, e.Note = true, "differita", "Vaccinazione differita per malattia febbrile acuta in corso."
		e.Next, e.CoverUntil, e.Risk, e.Condition, e.Lot = time.Time{}, time.Time{}, nil, nil, ""
		e.Reason = &vaccTimed{C: vaccFebbre, Low: when, High: when.AddDate(0, 0, 14)}
	case 1: // exempted
		e = vaccGiven(d, h, "vac1", vaccDose{V: vaccVaricella, N: 1, When: when}, when)
		e.Cancelled, e.Outcome, e.Note = true, "esonero", "Esonero per immunità da pregressa malattia documentata."
		e.Next, e.CoverUntil, e.Risk, e.Condition, e.Lot = time.Time{}, time.Time{}, nil, nil, ""
		e.Reason = &vaccTimed{C: vaccCode{"IMMUNE", "2.16.840.1.113883.5.8", "HL7 ActReason", "immunity"}}
		e.Immunity = &vaccVaricellaD
	default:
		e = vaccGiven(d, h, "vac1", dose, when)
		e.Note = "Nessuna reazione immediata; osservazione di 15 minuti."
		if h.Version > 1 {
			e.Note = "Rettifica: febbre nei giorni successivi alla somministrazione."
			e.Reaction = &vaccTimed{C: vaccFebbre, Low: when.Add(8 * time.Hour), High: when.Add(56 * time.Hour)}
		}
	}
	return vaccRender("vaccdoc", vaccDoc{
		H: h, SectionTemplate: "2.16.840.1.113883.2.9.10.1.11.3.1", SectionTitle: "Scheda della singola vaccinazione",
		Intro: fmt.Sprintf("Vaccinazione di %s %s, nato/a il %s.", d.Patient.Given, d.Patient.Family, d.Patient.BirthDate.Format("02/01/2006")),
		E:     []vaccEntry{e},
	})
}
