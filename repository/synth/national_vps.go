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

// Verbale di Pronto Soccorso (VPS, LOINC 59258-4): the report of one
// emergency department episode. Every episode has the four sections the
// national rules require (how the patient came, why, the triage codes —
// a first one and a re-assessment — and the discharge); what else it
// carries depends on how the episode ended, one of five outcomes picked
// from the document id (vpsOutcomes):
//
//   - domicilio: atypical chest pain sent home — every optional section:
//     the initial assessment (history with coded, uncoded and family
//     entries, examination, home therapy, allergies, open problems), the
//     ED phases, the clinical course, a complication, an ECG and a
//     requested consultation, laboratory and imaging results, vital signs,
//     the drugs given in the ED, the prognosis and appropriateness, a care
//     plan with its prescription and the therapy at discharge;
//   - ricovero: NSTEMI, admitted to the coronary unit (the post-discharge
//     encounter, with its location and reason);
//   - trasferimento: STEMI, transferred to a hub hospital (the transfer
//     act, with its location and reason);
//   - decesso: cardiac arrest, death in the ED (date of death, autopsy
//     request);
//   - abbandono: a minor trauma, the patient leaves before the medical
//     visit (no diagnosis, as the rules allow for that outcome only).
//
// The staff are synthetic people drawn from the document id, so the same
// Document always gives the same verbale. A replacement (d.Version > 1
// with d.Replaces, an id root^extension) keeps the set id of the document
// it replaces.

func init() { registerNational("VPS", buildVPS) }

// vpsOutcome is how an episode ends, and what that implies for the
// verbale's content.
type vpsOutcome struct {
	Name                     string // domicilio, ricovero, …
	Minutes                  int    // from arrival to the signature
	TransportCode, Transport string // ModalitàTrasporto_VPS
	SenderCode, Sender       string // ResponsabileInvio_VPS
	ProblemCode, Problem     string // ProblemaPrincipale_VPS
	Cause                    string // causa di accesso (free text)
	TriageCode, Triage       string // CodiceTriage_VPS, first triage
	RetriageCode, Retriage   string // re-assessment
	Complaint                string // narrative of the reason for the visit
	Vitals                   *vpsVitals
	Clinical                 bool // the visit took place: assessment, phases, exams, ED therapy
	Exam                     string
	Observation              bool // a stay in osservazione breve intensiva
	ECG, Consult             string
	Troponin0, Troponin1     string // hs troponin I, ng/L; the second may be missing
	Chest                    string // chest X-ray report, if one was made
	Course                   string // decorso
	Drug                     vpsDrug
	Complication             bool
	DiagnosisCode, Diagnosis string // ICD-9-CM, empty when the patient left before the visit
	OutcomeCode, Outcome     string // EsitoTrattamento_VPS
	Discharge                string // narrative of the discharge
	Prognosis                string
	ExitCode, Exit           string // livello di appropriatezza (CodiceTriage_VPS)
	Admission                bool   // encounter post dimissione
	Transfer                 bool   // trasferimento post dimissione
	Where, WhereCode         string // TipoLuogoPostDimissione_VPS
	Reason                   string // why admitted or transferred
	Death                    bool
	Home                     bool // care plan and therapy at discharge
}

// vpsVitals are the vital signs measured at triage.
type vpsVitals struct{ Systolic, Diastolic, Heart, SpO2, Temp, Resp string }

// vpsDrug is a drug given in the emergency department.
type vpsDrug struct {
	Code, System, Name string // AIC or ATC
	Given              string // what was given, as the narrative says it
	ATC, ATCName       string // translation, for an AIC code
	Dose, Unit         string
	Route, RouteName   string
	Strength, PackSize string // for an AIC code: mg per unit, units per pack
}

const (
	vpsAIC = "2.16.840.1.113883.2.9.6.1.5"
	vpsATC = "2.16.840.1.113883.6.73"
)

var vpsOutcomes = []vpsOutcome{
	{
		Name: "domicilio", Minutes: 360,
		TransportCode: "4", Transport: "Mezzo proprio", SenderCode: "02", Sender: "Medico di medicina generale",
		ProblemCode: "02", Problem: "Dolore toracico", Cause: "Dolore retrosternale urente insorto a riposo dopo il pasto serale",
		TriageCode: "G", Triage: "Giallo", RetriageCode: "V", Retriage: "Verde",
		Complaint: "Dolore toracico retrosternale urente, non irradiato, da circa due ore; inviato dal medico curante.",
		Vitals:    &vpsVitals{"145", "90", "88", "97", "36.6", "16"},
		Clinical:  true, Observation: true,
		Exam:      "Paziente vigile, orientato, collaborante, eupnoico. Toni cardiaci validi, pause libere. Murmure vescicolare su tutto l'ambito. Addome trattabile, lievemente dolente in epigastrio. Polsi periferici presenti e simmetrici.",
		ECG:       "ritmo sinusale a 78 bpm, PR e QRS nei limiti, nessuna alterazione della ripolarizzazione",
		Consult:   "Consulenza cardiologica: dolore di verosimile origine non coronarica, non indicazione a ulteriori accertamenti urgenti",
		Troponin0: "4", Troponin1: "5", Chest: "Non addensamenti parenchimali in atto; seni costofrenici liberi; ombra cardiaca nei limiti.",
		Course: "Dolore regredito dopo terapia antiacida; curva della troponina negativa; osservazione breve senza recidive.",
		Drug: vpsDrug{Code: "031981069", System: vpsAIC, Name: "PANTORC 20 mg 28 compresse gastroresistenti", ATC: "A02BC02", ATCName: "pantoprazolo",
			Given: "Pantoprazolo 40 mg (2 compresse da 20 mg) per os.",
			Dose:  "2", Unit: "1", Route: "PO", RouteName: "per os", Strength: "20", PackSize: "28"},
		Complication:  true,
		DiagnosisCode: "786.59", Diagnosis: "Altri dolori toracici",
		OutcomeCode: "1", Outcome: "Dimissione a domicilio",
		Discharge: "Dolore toracico atipico, verosimilmente di origine gastroesofagea. Si dimette a domicilio in buone condizioni generali.",
		Prognosis: "Guarigione clinica prevista in 5 giorni salvo complicazioni", ExitCode: "V", Exit: "Verde",
		Home: true,
	},
	{
		Name: "ricovero", Minutes: 300,
		TransportCode: "1", Transport: "Ambulanza 118", SenderCode: "06", Sender: "Centrale operativa 118",
		ProblemCode: "02", Problem: "Dolore toracico", Cause: "Dolore toracico oppressivo durante sforzo, persistente a riposo",
		TriageCode: "G", Triage: "Giallo", RetriageCode: "G", Retriage: "Giallo",
		Complaint: "Dolore toracico oppressivo irradiato al braccio sinistro, con sudorazione algida.",
		Vitals:    &vpsVitals{"160", "95", "102", "95", "36.8", "20"},
		Clinical:  true, Observation: true,
		Exam:      "Paziente vigile, sofferente, sudato. Toni cardiaci validi, ritmici, non soffi. Murmure vescicolare con fini crepitii basali. Addome trattabile. Non edemi declivi.",
		ECG:       "ritmo sinusale a 92 bpm, sottoslivellamento del tratto ST di 1 mm in V4-V6",
		Consult:   "Consulenza cardiologica: sindrome coronarica acuta senza sopraslivellamento del tratto ST, indicazione al ricovero in unità coronarica",
		Troponin0: "38", Troponin1: "412", Chest: "Lieve congestione del piccolo circolo; non versamento pleurico.",
		Course: "Dolore controllato con nitrati e oppioide; curva della troponina in incremento; posta diagnosi di NSTEMI, concordato il ricovero con il cardiologo.",
		Drug: vpsDrug{Code: "B01AC06", System: vpsATC, Name: "acido acetilsalicilico 250 mg",
			Given: "Acido acetilsalicilico 250 mg in bolo endovenoso.",
			Dose:  "250", Unit: "mg", Route: "IV", RouteName: "endovenosa"},
		DiagnosisCode: "410.71", Diagnosis: "Infarto subendocardico, episodio iniziale di assistenza",
		OutcomeCode: "3", Outcome: "Ricovero in reparto di degenza",
		Discharge: "Sindrome coronarica acuta senza sopraslivellamento del tratto ST. Ricoverato in unità coronarica.",
		Prognosis: "Riservata", ExitCode: "G", Exit: "Giallo",
		Admission: true, WhereCode: "UTIC", Where: "Unità di terapia intensiva coronarica",
		Reason: "NSTEMI: monitoraggio e coronarografia entro 24 ore",
	},
	{
		Name: "trasferimento", Minutes: 80,
		TransportCode: "1", Transport: "Ambulanza 118", SenderCode: "06", Sender: "Centrale operativa 118",
		ProblemCode: "02", Problem: "Dolore toracico", Cause: "Dolore toracico intenso insorto da 40 minuti",
		TriageCode: "R", Triage: "Rosso", RetriageCode: "R", Retriage: "Rosso",
		Complaint: "Dolore toracico intenso con sopraslivellamento del tratto ST all'ECG del 118.",
		Vitals:    &vpsVitals{"100", "60", "110", "93", "36.5", "22"},
		Clinical:  true,
		Exam:      "Paziente vigile, pallido, sudato. Toni cardiaci tachicardici, non soffi. Murmure vescicolare presente. Polsi periferici deboli.",
		ECG:       "sopraslivellamento del tratto ST di 3 mm in V1-V4",
		Consult:   "Consulenza cardiologica telefonica con il centro hub: indicazione ad angioplastica primaria",
		Troponin0: "96", Chest: "",
		Course: "Attivata la rete per l'infarto: doppia antiaggregazione ed eparina, trasferimento per angioplastica primaria.",
		Drug: vpsDrug{Code: "B01AC06", System: vpsATC, Name: "acido acetilsalicilico 250 mg",
			Given: "Acido acetilsalicilico 250 mg in bolo endovenoso.",
			Dose:  "250", Unit: "mg", Route: "IV", RouteName: "endovenosa"},
		DiagnosisCode: "410.11", Diagnosis: "Infarto miocardico acuto della parete anteriore, episodio iniziale di assistenza",
		OutcomeCode: "4", Outcome: "Trasferimento ad altro istituto",
		Discharge: "STEMI anteriore. Trasferito con mezzo di soccorso avanzato al centro hub per angioplastica primaria.",
		Prognosis: "Riservata", ExitCode: "R", Exit: "Rosso",
		Transfer: true, WhereCode: "HUB", Where: "Emodinamica del centro hub (struttura sintetica)",
		Reason: "Angioplastica primaria non disponibile in sede",
	},
	{
		Name: "decesso", Minutes: 60,
		TransportCode: "1", Transport: "Ambulanza 118", SenderCode: "06", Sender: "Centrale operativa 118",
		ProblemCode: "18", Problem: "Arresto cardiaco", Cause: "Arresto cardiocircolatorio extraospedaliero, rianimazione in corso",
		TriageCode: "R", Triage: "Rosso", RetriageCode: "R", Retriage: "Rosso",
		Complaint: "Giunge in arresto cardiocircolatorio con rianimazione cardiopolmonare in corso da parte del 118.",
		Clinical:  true,
		Exam:      "Paziente incosciente, in arresto cardiocircolatorio; pupille midriatiche, non reagenti; polsi centrali assenti.",
		ECG:       "asistolia",
		Consult:   "Consulenza anestesiologico-rianimatoria in sala emergenza",
		Troponin0: "2900", Chest: "",
		Course: "Proseguita la rianimazione cardiopolmonare avanzata per 40 minuti senza ripresa del circolo spontaneo.",
		Drug: vpsDrug{Code: "C01CA24", System: vpsATC, Name: "adrenalina 1 mg",
			Given: "Adrenalina 1 mg endovena ogni 3-5 minuti durante la rianimazione.",
			Dose:  "1", Unit: "mg", Route: "IV", RouteName: "endovenosa"},
		DiagnosisCode: "427.5", Diagnosis: "Arresto cardiaco",
		OutcomeCode: "5", Outcome: "Deceduto in pronto soccorso",
		Discharge: "Arresto cardiaco refrattario alle manovre rianimatorie. Constatato il decesso.",
		ExitCode:  "R", Exit: "Rosso", Death: true,
	},
	{
		Name: "abbandono", Minutes: 180,
		TransportCode: "4", Transport: "Mezzo proprio", SenderCode: "01", Sender: "Decisione propria",
		ProblemCode: "05", Problem: "Trauma", Cause: "Trauma distorsivo della caviglia destra durante attività sportiva",
		TriageCode: "B", Triage: "Bianco", RetriageCode: "B", Retriage: "Bianco",
		Complaint:   "Dolore alla caviglia destra dopo trauma distorsivo, deambulazione autonoma.",
		Vitals:      &vpsVitals{"125", "80", "76", "99", "36.4", "14"},
		OutcomeCode: "6", Outcome: "Il paziente abbandona il pronto soccorso prima della visita medica",
		Discharge: "Il paziente si allontana volontariamente prima della visita medica.",
		ExitCode:  "B", Exit: "Bianco",
	},
}

// vpsPerson is a synthetic member of staff.
type vpsPerson struct{ CF, Family, Given string }

// vpsPhase is a phase of the episode (an encounter of the Encounters
// section).
type vpsPhase struct {
	Code, Name, Place, PlaceName, Note string
	From, To                           string
	First, Last                        bool
}

type vpsData struct {
	D                     Document
	O                     vpsOutcome
	SetExt                string
	ParentRoot, ParentExt string
	ParentVersion         int
	Birth                 string
	BirthCity             vpsCity
	// The episode's times.
	TS, Arrival, Triage1, Vitals, Visit, ECG, Drug, DrugEnd, Lab, LabAgain, XRay string
	Retriage, Consult, Decision, Discharge, Entered                              string
	DischargeText                                                                string // the discharge time, as a person writes it
	Phases                                                                       []vpsPhase
	// Dates (day precision) of the history.
	Hypertension, Appendix, AllergyDrug, MilkFrom, MilkTo, FatherMI, Tomorrow string
	// The staff.
	Enterer, Director, Admitter, Nurse, Nurse2, Doctor, Consultant, LabDoctor, GP vpsPerson
	NRE, NRE2                                                                     string
}

// vpsCity is a birthplace: the city and its ISTAT code.
type vpsCity struct{ Name, County, ISTAT string }

// vpsCities maps the cadastral codes synth's patients are born in.
var vpsCities = map[string]vpsCity{
	"H501": {"Roma", "RM", "058091"}, "F205": {"Milano", "MI", "015146"}, "F839": {"Napoli", "NA", "063049"},
	"A662": {"Bari", "BA", "072006"}, "L219": {"Torino", "TO", "001272"},
}

func buildVPS(d Document) []byte {
	h := fnv.New64a()
	h.Write([]byte(d.ID()))
	return vpsBuild(d, int(h.Sum64()%uint64(len(vpsOutcomes))))
}

// vpsBuild makes the verbale of the outcome vpsOutcomes[outcome].
func vpsBuild(d Document, outcome int) []byte {
	rome := time.FixedZone("", 3600)
	end := d.Time.In(rome)
	ts := func(t time.Time) string { return t.Format("20060102150405-0700") }
	day := func(t time.Time) string { return t.Format("20060102") }
	o := vpsOutcomes[outcome]
	arrival := end.Add(-time.Duration(o.Minutes) * time.Minute)
	at := func(m float64) string { return ts(arrival.Add(time.Duration(m * float64(time.Minute)))) }
	share := func(f float64) float64 { return f * float64(o.Minutes) }
	visit := share(0.08)
	birth := d.Patient.BirthDate
	data := vpsData{
		D: d, O: o, SetExt: d.LocalID,
		Birth: day(birth), BirthCity: vpsCities["H501"],
		TS: ts(end), Arrival: at(0), Triage1: at(3), Vitals: at(5), Visit: at(visit),
		ECG: at(visit + 5), Drug: at(visit + 10), DrugEnd: at(visit + 25), Lab: at(visit + 15), LabAgain: at(share(0.65)),
		XRay: at(share(0.2)), Retriage: at(share(0.25)), Consult: at(share(0.35)),
		Decision: ts(end.Add(-30 * time.Minute)), Discharge: ts(end.Add(-15 * time.Minute)),
		DischargeText: end.Add(-15 * time.Minute).Format("02/01/2006 alle 15:04"), Entered: ts(end.Add(-5 * time.Minute)),
		Hypertension: day(end.AddDate(-8, 0, 0)), Appendix: day(birth.AddDate(15, 3, 0)), AllergyDrug: day(end.AddDate(-12, 0, 0)),
		MilkFrom: day(birth.AddDate(0, 8, 0)), MilkTo: day(birth.AddDate(4, 0, 0)), FatherMI: day(end.AddDate(-20, 0, 0)),
		Tomorrow: day(end.AddDate(0, 0, 1)),
	}
	if o.Observation {
		obi := at(share(0.4))
		data.Phases = []vpsPhase{
			{Code: "VIS", Name: "Visita medica", Place: "AMB", PlaceName: "Ambulatorio di pronto soccorso",
				Note: "Presa in carico, impostazione degli accertamenti e della terapia.", From: data.Visit, To: obi, First: true},
			{Code: "OBI", Name: "Osservazione breve intensiva", Place: "OBI", PlaceName: "Osservazione breve intensiva",
				Note: "Monitoraggio clinico e strumentale fino alla decisione.", From: obi, To: data.Discharge, Last: true},
		}
	} else if o.Clinical {
		data.Phases = []vpsPhase{
			{Code: "VIS", Name: "Visita medica", Place: "SE", PlaceName: "Sala emergenza",
				Note: "Trattamento in sala emergenza.", From: data.Visit, To: data.Discharge, First: true, Last: true},
		}
	}
	if len(d.Patient.CF) == 16 {
		if c, ok := vpsCities[d.Patient.CF[11:15]]; ok {
			data.BirthCity = c
		}
	}
	h := fnv.New64a()
	h.Write([]byte(d.ID() + "#vps"))
	rng := rand.New(rand.NewPCG(h.Sum64(), 3))
	staff := make([]vpsPerson, 9)
	for i := range staff {
		staff[i] = vpsStaff(rng)
	}
	data.Enterer, data.Director, data.Admitter, data.Nurse, data.Nurse2 = staff[0], staff[1], staff[2], staff[3], staff[4]
	data.Doctor, data.Consultant, data.LabDoctor, data.GP = staff[5], staff[6], staff[7], staff[8]
	data.NRE = fmt.Sprintf("%sA%011d", d.Region, rng.Int64N(1e11))
	data.NRE2 = fmt.Sprintf("%sA%011d", d.Region, rng.Int64N(1e11))
	if d.Replaces != "" {
		root, ext, _ := strings.Cut(d.Replaces, "^")
		data.ParentRoot, data.ParentExt, data.SetExt = root, ext, ext
		data.ParentVersion = max(d.Version-1, 1)
	}
	var out bytes.Buffer
	if err := vpsTemplate.Execute(&out, data); err != nil {
		panic(fmt.Sprintf("synth: VPS template: %v", err)) // a bug, not input
	}
	return out.Bytes()
}

// vpsStaff draws a synthetic adult member of staff, with a well-formed
// codice fiscale.
func vpsStaff(rng *rand.Rand) vpsPerson {
	p := Patient{Family: families[rng.IntN(len(families))], Gender: "M", Given: givenM[rng.IntN(len(givenM))]}
	if rng.IntN(2) == 0 {
		p.Gender, p.Given = "F", givenF[rng.IntN(len(givenF))]
	}
	p.BirthDate = time.Date(1960+rng.IntN(35), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
	return vpsPerson{CF: codiceFiscale(p, places[rng.IntN(len(places))], rng), Family: p.Family, Given: p.Given}
}

// vpsAuthor is the argument of the template's author: a time and a person.
type vpsAuthor struct {
	T string
	P vpsPerson
}

var vpsTemplate = template.Must(template.New("VPS").Funcs(template.FuncMap{
	"x":  xmlText,
	"by": func(t string, p vpsPerson) vpsAuthor { return vpsAuthor{t, p} },
}).Parse(`
{{- define "id"}}<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .CF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>{{end}}
{{- define "name"}}<name><family>{{x .Family}}</family><given>{{x .Given}}</given></name>{{end}}
{{- define "entity"}}<assignedEntity>{{template "id" .}}<assignedPerson>{{template "name" .}}</assignedPerson></assignedEntity>{{end}}
{{- define "role"}}<participantRole>{{template "id" .}}<playingEntity>{{template "name" .}}</playingEntity></participantRole>{{end}}
{{- define "author"}}<author><time value="{{.T}}"/><assignedAuthor>{{template "id" .P}}<assignedPerson>{{template "name" .P}}</assignedPerson></assignedAuthor></author>{{end -}}
<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="2.16.840.1.113883.2.9.10.1.6.1" extension="1.1"/>
	<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .D.LocalID}}" assigningAuthorityName="Documento sintetico"/>
	<code code="59258-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Verbale di Pronto Soccorso"/>
	<title>Verbale di pronto soccorso (documento sintetico)</title>
	<effectiveTime value="{{.TS}}"/>
	<confidentialityCode code="{{x .D.Confidentiality}}" codeSystem="2.16.840.1.113883.5.25" codeSystemName="HL7 Confidentiality"/>
	<languageCode code="it-IT"/>
	<setId root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .SetExt}}" assigningAuthorityName="Documento sintetico"/>
	<versionNumber value="{{.D.Version}}"/>
	<recordTarget>
		<patientRole>
			{{template "id" .D.Patient}}
			<addr use="H">
				<country>100</country>
				<county>{{x .BirthCity.County}}</county>
				<city>{{x .BirthCity.Name}}</city>
				<censusTract>{{x .BirthCity.ISTAT}}</censusTract>
				<streetAddressLine>Via della Prova 1</streetAddressLine>
			</addr>
			<telecom use="HP" value="tel:+390600000000"/>
			<patient>
				{{template "name" .D.Patient}}
				<administrativeGenderCode code="{{x .D.Patient.Gender}}" codeSystem="2.16.840.1.113883.5.1" codeSystemName="HL7 AdministrativeGender"/>
				<birthTime value="{{.Birth}}"/>
				<birthplace>
					<place>
						<addr>
							<country>100</country>
							<county>{{x .BirthCity.County}}</county>
							<city>{{x .BirthCity.Name}}</city>
							<censusTract>{{x .BirthCity.ISTAT}}</censusTract>
						</addr>
					</place>
				</birthplace>
			</patient>
		</patientRole>
	</recordTarget>
	<author>
		<time value="{{.TS}}"/>
		<assignedAuthor>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .D.AuthorCF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<telecom use="WP" value="tel:+390600000010"/>
			<assignedPerson><name><family>Medico</family><given>Sintetico</given></name></assignedPerson>
			<representedOrganization>
				<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Struttura sintetica {{x .D.Org}}</name>
			</representedOrganization>
		</assignedAuthor>
	</author>
	<dataEnterer>
		<time value="{{.Entered}}"/>
		{{template "entity" .Enterer}}
	</dataEnterer>
	<custodian>
		<assignedCustodian>
			<representedCustodianOrganization>
				<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Struttura sintetica {{x .D.Org}}</name>
				<telecom use="WP" value="tel:+390600000020"/>
				<addr use="WP">
					<country>100</country>
					<city>Roma</city>
					<streetAddressLine>Via della Struttura Sintetica 3</streetAddressLine>
				</addr>
			</representedCustodianOrganization>
		</assignedCustodian>
	</custodian>
	<legalAuthenticator>
		<time value="{{.TS}}"/>
		<signatureCode code="S"/>
		<assignedEntity>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .D.AuthorCF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<assignedPerson><name><family>Medico</family><given>Sintetico</given></name></assignedPerson>
		</assignedEntity>
	</legalAuthenticator>
	<participant typeCode="IND">
		<functionCode code="PCP" codeSystem="2.16.840.1.113883.5.88" displayName="Medico di medicina generale"/>
		<associatedEntity classCode="PROV">
			{{template "id" .GP}}
			<addr use="WP">
				<country>100</country>
				<city>Roma</city>
				<streetAddressLine>Via dello Studio Sintetico 2</streetAddressLine>
			</addr>
			<telecom use="WP" value="tel:+390600000030"/>
			<associatedPerson>{{template "name" .GP}}</associatedPerson>
		</associatedEntity>
	</participant>
	<documentationOf>
		<serviceEvent>
			<effectiveTime>
				<low value="{{.Arrival}}"/>
				<high value="{{.Discharge}}"/>
			</effectiveTime>
			<performer typeCode="PRF">
				{{template "entity" .Doctor}}
			</performer>
		</serviceEvent>
	</documentationOf>
{{- if .D.Replaces}}
	<relatedDocument typeCode="RPLC">
		<parentDocument>
			<id root="{{x .ParentRoot}}" extension="{{x .ParentExt}}"/>
			<setId root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .SetExt}}"/>
			<versionNumber value="{{.ParentVersion}}"/>
		</parentDocument>
	</relatedDocument>
{{- end}}
	<componentOf>
		<encompassingEncounter>
			<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.6" extension="PS-{{x .D.LocalID}}" assigningAuthorityName="Struttura sintetica {{x .D.Org}}"/>
			<code code="EMER" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Emergenza"/>
			<effectiveTime>
				<low value="{{.Arrival}}"/>
				<high value="{{.Discharge}}"/>
			</effectiveTime>
			<responsibleParty>
				{{template "entity" .Director}}
			</responsibleParty>
			<encounterParticipant typeCode="ADM">
				{{template "entity" .Admitter}}
			</encounterParticipant>
			<location>
				<healthCareFacility>
					<id root="2.16.840.1.113883.2.9.4.1.6" extension="{{x .D.Org}}.PS" assigningAuthorityName="Ministero della Salute"/>
					<location>
						<name>Pronto soccorso</name>
					</location>
					<serviceProviderOrganization>
						<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
						<name>Struttura sintetica {{x .D.Org}}</name>
						<telecom use="WP" value="tel:+390600000040"/>
						<addr use="WP">
							<country>100</country>
							<city>Roma</city>
							<streetAddressLine>Via della Struttura Sintetica 3</streetAddressLine>
						</addr>
					</serviceProviderOrganization>
				</healthCareFacility>
			</location>
		</encompassingEncounter>
	</componentOf>
	<component>
		<structuredBody>
			<component>
				<section ID="vps-trasporto">
					<templateId root="2.16.840.1.113883.2.9.10.1.6.20"/>
					<code code="11459-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Modalità di trasporto"/>
					<title>Modalità di trasporto</title>
					<text>
						<table>
							<thead><tr><th>Modalità di arrivo</th><th>Responsabile dell'invio</th></tr></thead>
							<tbody><tr><td>{{x .O.Transport}}</td><td>{{x .O.Sender}}</td></tr></tbody>
						</table>
					</text>
					<entry>
						<act classCode="TRNS" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.40"/>
							<code code="{{x .O.TransportCode}}" codeSystem="2.16.840.1.113883.2.9.6.1.54.6" codeSystemName="ModalitàTrasporto_VPS" displayName="{{x .O.Transport}}"/>
							<statusCode code="completed"/>
							<participant typeCode="REFB">
								<participantRole>
									<code code="{{x .O.SenderCode}}" codeSystem="2.16.840.1.113883.2.9.6.1.54.1" codeSystemName="ResponsabileInvio_VPS" displayName="{{x .O.Sender}}"/>
								</participantRole>
							</participant>
						</act>
					</entry>
				</section>
			</component>
			<component>
				<section ID="vps-motivo">
					<templateId root="2.16.840.1.113883.2.9.10.1.6.42"/>
					<code code="46239-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Motivo della visita"/>
					<title>Motivo della visita</title>
					<text>
						<list>
							<item><content ID="vps-problema">Problema principale: {{x .O.Problem}}</content></item>
							<item><content ID="vps-causa">Causa di accesso: {{x .O.Cause}}</content></item>
							<item>{{x .O.Complaint}}</item>
						</list>
					</text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.37"/>
							<code code="56817-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Problema principale all'accesso"/>
							<text><reference value="#vps-problema"/></text>
							<statusCode code="completed"/>
							<value xsi:type="CD" code="{{x .O.ProblemCode}}" codeSystem="2.16.840.1.113883.2.9.6.1.54.2" codeSystemName="ProblemaPrincipale_VPS" displayName="{{x .O.Problem}}"/>
						</observation>
					</entry>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.87"/>
							<code code="29298-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Causa di accesso"/>
							<text><reference value="#vps-causa"/></text>
							<statusCode code="completed"/>
							<value xsi:type="ST">{{x .O.Cause}}</value>
						</observation>
					</entry>
				</section>
			</component>
			<component>
				<section ID="vps-triage">
					<templateId root="2.16.840.1.113883.2.9.10.1.6.21"/>
					<code code="54094-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Triage"/>
					<title>Triage</title>
					<text>
						<table>
							<thead><tr><th>Valutazione</th><th>Codice</th><th>Operatore</th></tr></thead>
							<tbody>
								<tr><td ID="vps-triage-1">Triage all'accesso</td><td>{{x .O.Triage}}</td><td>{{x .Nurse.Family}} {{x .Nurse.Given}}</td></tr>
								<tr><td ID="vps-triage-2">Rivalutazione</td><td>{{x .O.Retriage}}</td><td>{{x .Nurse2.Family}} {{x .Nurse2.Given}}</td></tr>
							</tbody>
						</table>
					</text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.39"/>
							<code code="11283-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Valutazione acutezza"/>
							<text><reference value="#vps-triage-1"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{.Triage1}}"/>
							<value xsi:type="CD" code="{{x .O.TriageCode}}" codeSystem="2.16.840.1.113883.2.9.6.1.54.4" codeSystemName="CodiceTriage_VPS" displayName="{{x .O.Triage}}"/>
							<performer typeCode="PRF">
								{{template "entity" .Nurse}}
							</performer>
						</observation>
					</entry>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.39"/>
							<code code="11283-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Valutazione acutezza"/>
							<text><reference value="#vps-triage-2"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{.Retriage}}"/>
							<value xsi:type="CD" code="{{x .O.RetriageCode}}" codeSystem="2.16.840.1.113883.2.9.6.1.54.4" codeSystemName="CodiceTriage_VPS" displayName="{{x .O.Retriage}}"/>
							<performer typeCode="PRF">
								{{template "entity" .Nurse2}}
							</performer>
						</observation>
					</entry>
				</section>
			</component>
{{- if .O.Clinical}}
			<component>
				<section ID="vps-inquadramento">
					<templateId root="2.16.840.1.113883.2.9.10.1.6.56"/>
					<code code="78337-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Inquadramento clinico iniziale"/>
					<title>Inquadramento clinico iniziale</title>
					<text>Valutazione medica all'accesso: anamnesi, esame obiettivo, terapia domiciliare, allergie e problemi aperti.</text>
					{{template "author" (by .Visit .Doctor)}}
					<component>
						<section ID="vps-anamnesi">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.55"/>
							<code code="11329-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Anamnesi"/>
							<title>Anamnesi</title>
							<text>
								<list>
									<item><content ID="vps-anam-1">Ipertensione arteriosa essenziale in trattamento.</content></item>
									<item><content ID="vps-anam-2">Pregressa appendicectomia in età giovanile.</content></item>
									<item><content ID="vps-anam-3">Padre: infarto miocardico a 60 anni, deceduto a 72 anni.</content></item>
								</list>
							</text>
							{{template "author" (by .Visit .Doctor)}}
							<entry>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.316"/>
									<code code="75326-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Problema"/>
									<text><reference value="#vps-anam-1"/></text>
									<statusCode code="completed"/>
									<effectiveTime><low value="{{.Hypertension}}"/></effectiveTime>
									<value xsi:type="CD" code="401.9" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Ipertensione essenziale non specificata"/>
									<entryRelationship typeCode="REFR" inversionInd="false">
										<observation classCode="OBS" moodCode="EVN">
											<code code="89261-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Cronicità"/>
											<statusCode code="completed"/>
											<value xsi:type="CD" code="LA28752-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Cronico"/>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="REFR" inversionInd="false">
										<observation classCode="OBS" moodCode="EVN">
											<code code="33999-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato clinico"/>
											<statusCode code="completed"/>
											<value xsi:type="CD" code="LA16666-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Attivo"/>
										</observation>
									</entryRelationship>
								</observation>
							</entry>
							<entry>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.316"/>
									<code code="75326-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Problema"/>
									<statusCode code="completed"/>
									<effectiveTime><low value="{{.Appendix}}"/><high value="{{.Appendix}}"/></effectiveTime>
									<value xsi:type="CD"><originalText><reference value="#vps-anam-2"/></originalText></value>
									<entryRelationship typeCode="REFR" inversionInd="false">
										<observation classCode="OBS" moodCode="EVN">
											<code code="33999-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato clinico"/>
											<statusCode code="completed"/>
											<value xsi:type="CD" code="LA18632-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Inattivo"/>
										</observation>
									</entryRelationship>
								</observation>
							</entry>
							<entry>
								<organizer classCode="CLUSTER" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.317"/>
									<code code="10157-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Anamnesi familiare"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.FatherMI}}"/>
									<subject typeCode="SBJ">
										<relatedSubject classCode="PRS">
											<code code="FTH" codeSystem="2.16.840.1.113883.5.111" codeSystemName="RoleCode" displayName="Padre"/>
											<subject>
												<name><family>{{x .D.Patient.Family}}</family><given>Padre</given></name>
												<administrativeGenderCode code="M" codeSystem="2.16.840.1.113883.5.1"/>
											</subject>
										</relatedSubject>
									</subject>
									<component>
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.931"/>
											<code code="52797-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi (codice ICD)"/>
											<text><reference value="#vps-anam-3"/></text>
											<statusCode code="completed"/>
											<effectiveTime value="{{.FatherMI}}"/>
											<value xsi:type="CD" code="410.90" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Infarto miocardico acuto di sede non specificata"/>
											<entryRelationship typeCode="SUBJ">
												<observation classCode="OBS" moodCode="EVN">
													<code code="35267-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Età alla diagnosi"/>
													<value xsi:type="PQ" value="60" unit="a"/>
												</observation>
											</entryRelationship>
											<entryRelationship typeCode="SUBJ">
												<observation classCode="OBS" moodCode="EVN">
													<code code="39016-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Età al decesso"/>
													<value xsi:type="PQ" value="72" unit="a"/>
												</observation>
											</entryRelationship>
										</observation>
									</component>
								</organizer>
							</entry>
						</section>
					</component>
					<component>
						<section ID="vps-esame-obiettivo">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.58"/>
							<code code="29545-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Esame obiettivo"/>
							<title>Esame obiettivo</title>
							<text>{{x .O.Exam}}</text>
							{{template "author" (by .Visit .Doctor)}}
						</section>
					</component>
					<component>
						<section ID="vps-terapia-ingresso">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.57"/>
							<code code="42346-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Terapia farmacologica all'ingresso"/>
							<title>Terapia farmacologica all'ingresso</title>
							<text>Ramipril 5 mg, 1 compressa al mattino.</text>
							{{template "author" (by .Visit .Doctor)}}
						</section>
					</component>
					<component>
						<section ID="vps-allergie">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.33"/>
							<code code="48765-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergie e/o reazioni avverse"/>
							<title>Allergie</title>
							<text>
								<list>
									<item><content ID="vps-all-1">Allergia all'amoxicillina</content>: <content ID="vps-all-1-reaz">orticaria generalizzata</content>, criticità <content ID="vps-all-1-crit">bassa</content>, <content ID="vps-all-1-stato">attiva</content>. <content ID="vps-all-1-nota">Evitare le penicilline.</content></item>
									<item><content ID="vps-all-2">Allergia alle <content ID="vps-all-2-agente">proteine del latte vaccino</content> in età infantile</content>: <content ID="vps-all-2-reaz">dermatite</content>, risolta.</item>
								</list>
							</text>
							{{template "author" (by .Visit .Doctor)}}
							<entry>
								<act classCode="ACT" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.319"/>
									<code nullFlavor="NA"/>
									<statusCode code="active"/>
									<effectiveTime><low value="{{.AllergyDrug}}"/></effectiveTime>
									<entryRelationship typeCode="SUBJ">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.320"/>
											<code code="52473-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergia o causa della reazione"/>
											<text><reference value="#vps-all-1"/></text>
											<statusCode code="completed"/>
											<effectiveTime><low value="{{.AllergyDrug}}"/></effectiveTime>
											<value xsi:type="CD" code="DALG" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ObservationIntoleranceType" displayName="Allergia a farmaco"/>
											<participant typeCode="CSM">
												<participantRole classCode="MANU">
													<playingEntity classCode="MMAT">
														<code code="J01CA04" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="amoxicillina"/>
													</playingEntity>
												</participantRole>
											</participant>
											<entryRelationship typeCode="MFST" inversionInd="true">
												<observation classCode="OBS" moodCode="EVN">
													<templateId root="2.16.840.1.113883.3.1937.777.63.10.163"/>
													<code code="75321-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Obiettività clinica"/>
													<text><reference value="#vps-all-1-reaz"/></text>
													<statusCode code="completed"/>
													<effectiveTime><low value="{{.AllergyDrug}}"/><high value="{{.AllergyDrug}}"/></effectiveTime>
													<value xsi:type="CD" code="708.9" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Orticaria, non specificata">
														<originalText><reference value="#vps-all-1-reaz"/></originalText>
													</value>
												</observation>
											</entryRelationship>
											<entryRelationship typeCode="SUBJ" inversionInd="true">
												<observation classCode="OBS" moodCode="EVN">
													<templateId root="2.16.840.1.113883.3.1937.777.63.10.321"/>
													<code code="SEV" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Criticità"/>
													<text><reference value="#vps-all-1-crit"/></text>
													<statusCode code="completed"/>
													<value xsi:type="CD" code="L" codeSystem="2.16.840.1.113883.5.1063" codeSystemName="CriticalityObservation" displayName="Bassa"/>
												</observation>
											</entryRelationship>
											<entryRelationship typeCode="REFR">
												<observation classCode="OBS" moodCode="EVN">
													<templateId root="2.16.840.1.113883.3.1937.777.63.10.916"/>
													<code code="33999-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato"/>
													<text><reference value="#vps-all-1-stato"/></text>
													<statusCode code="completed"/>
													<value xsi:type="CD" code="LA16666-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Attivo"/>
												</observation>
											</entryRelationship>
											<entryRelationship typeCode="SUBJ" inversionInd="true">
												<act classCode="ACT" moodCode="EVN">
													<templateId root="2.16.840.1.113883.3.1937.777.63.10.920"/>
													<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Commenti"/>
													<text><reference value="#vps-all-1-nota"/></text>
													<statusCode code="completed"/>
												</act>
											</entryRelationship>
										</observation>
									</entryRelationship>
								</act>
							</entry>
							<entry>
								<act classCode="ACT" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.319"/>
									<code nullFlavor="NA"/>
									<statusCode code="completed"/>
									<effectiveTime><low value="{{.MilkFrom}}"/><high value="{{.MilkTo}}"/></effectiveTime>
									<entryRelationship typeCode="SUBJ">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.320"/>
											<code code="52473-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergia o causa della reazione"/>
											<text><reference value="#vps-all-2"/></text>
											<statusCode code="completed"/>
											<effectiveTime><low value="{{.MilkFrom}}"/><high value="{{.MilkTo}}"/></effectiveTime>
											<value xsi:type="CD" code="FALG" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ObservationIntoleranceType" displayName="Allergia alimentare"/>
											<participant typeCode="CSM">
												<participantRole classCode="MANU">
													<playingEntity classCode="MMAT">
														<code nullFlavor="NI"><originalText><reference value="#vps-all-2-agente"/></originalText></code>
													</playingEntity>
												</participantRole>
											</participant>
											<entryRelationship typeCode="MFST" inversionInd="true">
												<observation classCode="OBS" moodCode="EVN">
													<templateId root="2.16.840.1.113883.3.1937.777.63.10.163"/>
													<code code="75321-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Obiettività clinica"/>
													<text><reference value="#vps-all-2-reaz"/></text>
													<statusCode code="completed"/>
													<effectiveTime><low value="{{.MilkFrom}}"/><high value="{{.MilkTo}}"/></effectiveTime>
													<value xsi:type="CD" code="693.1" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Dermatite da alimenti ingeriti"/>
												</observation>
											</entryRelationship>
											<entryRelationship typeCode="REFR">
												<observation classCode="OBS" moodCode="EVN">
													<templateId root="2.16.840.1.113883.3.1937.777.63.10.916"/>
													<code code="33999-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato"/>
													<statusCode code="completed"/>
													<value xsi:type="CD" code="LA18632-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Inattivo"/>
												</observation>
											</entryRelationship>
										</observation>
									</entryRelationship>
								</act>
							</entry>
						</section>
					</component>
					<component>
						<section ID="vps-problemi-aperti">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.59"/>
							<code code="11450-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Problemi aperti"/>
							<title>Problemi aperti</title>
							<text>Ipertensione arteriosa in trattamento farmacologico.</text>
							{{template "author" (by .Visit .Doctor)}}
						</section>
					</component>
				</section>
			</component>
			<component>
				<section ID="vps-fasi">
					<templateId root="2.16.840.1.113883.2.9.10.1.6.50"/>
					<code code="46240-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Fasi dell'episodio di pronto soccorso"/>
					<title>Fasi dell'episodio di pronto soccorso</title>
					<text>
						<list>
{{- range $i, $p := .Phases}}
							<item>{{x $p.Name}} ({{x $p.PlaceName}}): <content ID="vps-fase-{{$i}}">{{x $p.Note}}</content></item>
{{- end}}
						</list>
					</text>
{{- range $i, $p := .Phases}}
					<entry>
						<encounter classCode="ENC" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.51"/>
							<code code="{{x $p.Code}}" codeSystem="2.16.840.1.113883.2.9.1.11.1.2.4" codeSystemName="TipoEncounter_VPS" displayName="{{x $p.Name}}"/>
							<effectiveTime><low value="{{$p.From}}"/><high value="{{$p.To}}"/></effectiveTime>
{{- if $p.First}}
							<participant typeCode="ADM">{{template "role" $.Admitter}}</participant>
{{- end}}
							<participant typeCode="ATND">{{template "role" $.Doctor}}</participant>
{{- if $p.Last}}
							<participant typeCode="DIS">{{template "role" $.Doctor}}</participant>
{{- end}}
							<participant typeCode="LOC">
								<participantRole classCode="SDLOC">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.64"/>
									<code code="{{x $p.Place}}" codeSystem="2.16.840.1.113883.2.9.1.11.1.2.10" codeSystemName="TipoLuogo_VPS" displayName="{{x $p.PlaceName}}"/>
								</participantRole>
							</participant>
							<entryRelationship typeCode="SUBJ">
								<act classCode="ACT" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.47"/>
									<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Note"/>
									<text><reference value="#vps-fase-{{$i}}"/></text>
									<statusCode code="completed"/>
								</act>
							</entryRelationship>
						</encounter>
					</entry>
{{- end}}
				</section>
			</component>
			<component>
				<section ID="vps-decorso">
					<templateId root="2.16.840.1.113883.2.9.10.1.6.23"/>
					<code code="8648-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Decorso"/>
					<title>Decorso</title>
					<text>{{x .O.Course}}</text>
					{{template "author" (by .Decision .Doctor)}}
				</section>
			</component>
{{- if .O.Complication}}
			<component>
				<section ID="vps-complicanze">
					<code code="55109-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Complicanze"/>
					<title>Complicanze</title>
					<text><content ID="vps-compl-1">Episodio vagale con ipotensione durante il prelievo venoso, risolto con il clinostatismo.</content></text>
					{{template "author" (by .Decision .Doctor)}}
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.323"/>
							<code code="75326-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Problema"/>
							<text><reference value="#vps-compl-1"/></text>
							<statusCode code="completed"/>
							<effectiveTime><low value="{{.Lab}}"/><high value="{{.XRay}}"/></effectiveTime>
							<value xsi:type="CD" code="458.9" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Ipotensione, non specificata"/>
						</observation>
					</entry>
				</section>
			</component>
{{- end}}
			<component>
				<section ID="vps-prestazioni">
					<templateId root="2.16.840.1.113883.2.9.10.1.6.26"/>
					<code code="62387-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Interventi, prestazioni, consulenze e richieste"/>
					<title>Interventi, prestazioni, consulenze e richieste</title>
					<text>
						<list>
							<item><content ID="vps-ecg">ECG a 12 derivazioni: {{x .O.ECG}}</content></item>
							<item><content ID="vps-consulenza">{{x .O.Consult}}.</content></item>
						</list>
					</text>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.62"/>
							<code code="11524-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="ECG a 12 derivazioni"/>
							<text><reference value="#vps-ecg"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{.ECG}}"/>
							<performer>{{template "entity" .Doctor}}</performer>
							<participant typeCode="REF">{{template "role" .Doctor}}</participant>
						</act>
					</entry>
					<entry>
						<act classCode="ACT" moodCode="RQO">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.62"/>
							<code code="11488-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Consulenza"/>
							<text><reference value="#vps-consulenza"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{.Consult}}"/>
							<performer>{{template "entity" .Consultant}}</performer>
							<participant typeCode="REF">{{template "role" .Doctor}}</participant>
						</act>
					</entry>
				</section>
			</component>
			<component>
				<section ID="vps-accertamenti">
					<templateId root="2.16.840.1.113883.2.9.10.1.6.27"/>
					<code code="30954-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Accertamenti"/>
					<title>Accertamenti</title>
					<text>
						<table>
							<thead><tr><th>Esame</th><th>Risultato</th><th>Unità</th></tr></thead>
							<tbody>
								<tr><td>Troponina I ad alta sensibilità (0 h)</td><td>{{x .O.Troponin0}}</td><td>ng/L</td></tr>
{{- if .O.Troponin1}}
								<tr><td>Troponina I ad alta sensibilità (controllo)</td><td>{{x .O.Troponin1}}</td><td>ng/L</td></tr>
{{- end}}
								<tr><td>Emoglobina</td><td>14,1</td><td>g/dL</td></tr>
								<tr><td>Creatinina</td><td>0,9</td><td>mg/dL</td></tr>
{{- if .O.Chest}}
								<tr><td>Radiografia del torace</td><td colspan="2">{{x .O.Chest}}</td></tr>
{{- end}}
							</tbody>
						</table>
					</text>
					<entry>
						<organizer classCode="BATTERY" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.45"/>
							<code code="26436-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Esami di laboratorio"/>
							<statusCode code="completed"/>
							<effectiveTime><low value="{{.Lab}}"/><high value="{{if .O.Troponin1}}{{.LabAgain}}{{else}}{{.Lab}}{{end}}"/></effectiveTime>
							<performer>{{template "entity" .LabDoctor}}</performer>
							<participant typeCode="REF">{{template "role" .Doctor}}</participant>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.46"/>
									<code code="89579-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Troponina I cardiaca ad alta sensibilità"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.Lab}}"/>
									<value xsi:type="PQ" value="{{x .O.Troponin0}}" unit="ng/L"/>
								</observation>
							</component>
{{- if .O.Troponin1}}
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.46"/>
									<code code="89579-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Troponina I cardiaca ad alta sensibilità"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.LabAgain}}"/>
									<value xsi:type="PQ" value="{{x .O.Troponin1}}" unit="ng/L"/>
								</observation>
							</component>
{{- end}}
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.46"/>
									<code code="718-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Emoglobina"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.Lab}}"/>
									<value xsi:type="PQ" value="14.1" unit="g/dL"/>
								</observation>
							</component>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.46"/>
									<code code="2160-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Creatinina"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.Lab}}"/>
									<value xsi:type="PQ" value="0.9" unit="mg/dL"/>
								</observation>
							</component>
						</organizer>
					</entry>
{{- if .O.Chest}}
					<entry>
						<organizer classCode="BATTERY" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.45"/>
							<code code="36643-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Radiografia del torace"/>
							<statusCode code="completed"/>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.46"/>
									<code code="36643-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Radiografia del torace"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.XRay}}"/>
									<value xsi:type="ST">{{x .O.Chest}}</value>
								</observation>
							</component>
						</organizer>
					</entry>
{{- end}}
				</section>
			</component>
{{- end}}
{{- with .O.Vitals}}
			<component>
				<section ID="vps-parametri">
					<templateId root="2.16.840.1.113883.2.9.10.1.6.28"/>
					<code code="8716-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Parametri vitali"/>
					<title>Parametri vitali</title>
					<text>Al triage: pressione arteriosa {{x .Systolic}}/{{x .Diastolic}} mmHg, frequenza cardiaca {{x .Heart}}/min, saturazione {{x .SpO2}}%, temperatura {{x .Temp}} °C, frequenza respiratoria {{x .Resp}}/min.</text>
					<entry>
						<organizer classCode="CLUSTER" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.90"/>
							<code code="85353-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Parametri vitali"/>
							<statusCode code="completed"/>
							<effectiveTime value="{{$.Vitals}}"/>
							<performer>{{template "entity" $.Nurse}}</performer>
							<participant typeCode="REF">{{template "role" $.Nurse}}</participant>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.91"/>
									<code code="8480-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Pressione arteriosa sistolica"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{$.Vitals}}"/>
									<value xsi:type="PQ" value="{{x .Systolic}}" unit="mm[Hg]"/>
									<performer>{{template "entity" $.Nurse}}</performer>
									<participant typeCode="REF">{{template "role" $.Nurse}}</participant>
								</observation>
							</component>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.91"/>
									<code code="8462-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Pressione arteriosa diastolica"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{$.Vitals}}"/>
									<value xsi:type="PQ" value="{{x .Diastolic}}" unit="mm[Hg]"/>
								</observation>
							</component>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.91"/>
									<code code="8867-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Frequenza cardiaca"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{$.Vitals}}"/>
									<value xsi:type="PQ" value="{{x .Heart}}" unit="/min"/>
								</observation>
							</component>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.91"/>
									<code code="59408-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Saturazione di ossigeno (pulsossimetria)"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{$.Vitals}}"/>
									<value xsi:type="PQ" value="{{x .SpO2}}" unit="%"/>
								</observation>
							</component>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.91"/>
									<code code="8310-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Temperatura corporea"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{$.Vitals}}"/>
									<value xsi:type="PQ" value="{{x .Temp}}" unit="Cel"/>
								</observation>
							</component>
							<component>
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.91"/>
									<code code="9279-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Frequenza respiratoria"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{$.Vitals}}"/>
									<value xsi:type="PQ" value="{{x .Resp}}" unit="/min"/>
								</observation>
							</component>
						</organizer>
					</entry>
				</section>
			</component>
{{- end}}
{{- if .O.Clinical}}
			<component>
				<section ID="vps-terapia-ps">
					<templateId root="2.16.840.1.113883.2.9.10.1.6.29"/>
					<code code="29549-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Terapia farmacologica in pronto soccorso"/>
					<title>Terapia farmacologica in pronto soccorso</title>
					<text><content ID="vps-farmaco-ps">{{x .O.Drug.Given}}</content></text>
					<entry>
						<substanceAdministration classCode="SBADM" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.52"/>
							<text><reference value="#vps-farmaco-ps"/></text>
							<statusCode code="completed"/>
							<effectiveTime xsi:type="IVL_TS"><low value="{{.Drug}}"/><high value="{{.DrugEnd}}"/></effectiveTime>
							<routeCode code="{{x .O.Drug.Route}}" codeSystem="2.16.840.1.113883.5.112" codeSystemName="RouteOfAdministration" displayName="{{x .O.Drug.RouteName}}"/>
							<doseQuantity value="{{x .O.Drug.Dose}}" unit="{{x .O.Drug.Unit}}"/>
							<consumable>
								<manufacturedProduct classCode="MANU">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.53"/>
									<manufacturedMaterial>
										<code code="{{x .O.Drug.Code}}" codeSystem="{{x .O.Drug.System}}" displayName="{{x .O.Drug.Name}}">
											<originalText><reference value="#vps-farmaco-ps"/></originalText>
{{- if .O.Drug.ATC}}
											<translation code="{{x .O.Drug.ATC}}" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="{{x .O.Drug.ATCName}}"/>
{{- end}}
										</code>
									</manufacturedMaterial>
								</manufacturedProduct>
							</consumable>
							<performer>{{template "entity" .Nurse2}}</performer>
							<participant typeCode="REF">{{template "role" .Doctor}}</participant>
{{- if .O.Drug.Strength}}
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.921"/>
									<code nullFlavor="NA"><originalText>Grammatura</originalText></code>
									<value xsi:type="PQ" value="{{x .O.Drug.Strength}}" unit="mg"/>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.922"/>
									<code nullFlavor="NA"><originalText>Quantità nella confezione</originalText></code>
									<value xsi:type="PQ" value="{{x .O.Drug.PackSize}}" unit="1"/>
								</observation>
							</entryRelationship>
{{- end}}
						</substanceAdministration>
					</entry>
				</section>
			</component>
{{- end}}
			<component>
				<section ID="vps-dimissione">
					<templateId root="2.16.840.1.113883.2.9.10.1.6.24"/>
					<code code="28574-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Dimissione"/>
					<title>Dimissione</title>
					<text>
						<list>
							<item><content ID="vps-dim">{{x .O.Discharge}}</content></item>
{{- if .O.DiagnosisCode}}
							<item>Diagnosi: {{x .O.Diagnosis}} ({{x .O.DiagnosisCode}}).</item>
{{- end}}
							<item>Esito: {{x .O.Outcome}}.</item>
{{- if .O.Prognosis}}
							<item>Prognosi: <content ID="vps-prognosi">{{x .O.Prognosis}}</content>.</item>
{{- end}}
							<item>Livello di appropriatezza dell'accesso: {{x .O.Exit}}.</item>
{{- if or .O.Admission .O.Transfer}}
							<item><content ID="vps-destinazione">{{x .O.Where}}: {{x .O.Reason}}.</content></item>
{{- end}}
{{- if .O.Death}}
							<item>Decesso constatato il {{x .DischargeText}}; richiesta l'autopsia.</item>
{{- end}}
						</list>
					</text>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.66"/>
							<code code="dimissione" codeSystem="2.16.840.1.113883.2.9.5.1.4" displayName="Dimissione"/>
							<text><reference value="#vps-dim"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{.Discharge}}"/>
							<performer>{{template "entity" .Doctor}}</performer>
{{- if .O.Admission}}
							<entryRelationship typeCode="COMP">
								<encounter classCode="ENC" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.67"/>
									<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.6" extension="RIC-{{x .D.LocalID}}"/>
									<code code="IMP" codeSystem="2.16.840.1.113883.2.9.1.11.1.2.9" codeSystemName="TipoEncounterPostDimissione_VPS" displayName="Ricovero"/>
									<text><reference value="#vps-destinazione"/></text>
									<effectiveTime value="{{.Discharge}}"/>
									<participant typeCode="LOC">
										<participantRole classCode="SDLOC">
											<templateId root="2.16.840.1.113883.2.9.10.1.6.64"/>
											<id root="2.16.840.1.113883.2.9.4.1.6" extension="{{x .D.Org}}.UTIC"/>
											<code code="{{x .O.WhereCode}}" codeSystem="2.16.840.1.113883.2.9.1.11.1.2.11" codeSystemName="TipoLuogoPostDimissione_VPS" displayName="{{x .O.Where}}"/>
										</participantRole>
									</participant>
									<entryRelationship typeCode="RSON">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.2.9.10.1.6.68"/>
											<code code="CLIN" codeSystem="2.16.840.1.113883.2.9.1.11.1.2.13" codeSystemName="ProblemType_VPS" displayName="Motivo clinico"/>
											<statusCode code="completed"/>
											<effectiveTime value="{{.Decision}}"/>
											<value xsi:type="ST">{{x .O.Reason}}</value>
										</observation>
									</entryRelationship>
								</encounter>
							</entryRelationship>
{{- end}}
{{- if .O.Transfer}}
							<entryRelationship typeCode="COMP">
								<act classCode="TRNS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.92"/>
									<code nullFlavor="NA"/>
									<text><reference value="#vps-destinazione"/></text>
									<effectiveTime value="{{.Discharge}}"/>
									<participant typeCode="LOC">
										<participantRole classCode="SDLOC">
											<templateId root="2.16.840.1.113883.2.9.10.1.6.64"/>
											<id root="2.16.840.1.113883.2.9.4.1.1" extension="{{x .D.Region}}999"/>
											<code code="{{x .O.WhereCode}}" codeSystem="2.16.840.1.113883.2.9.1.11.1.2.11" codeSystemName="TipoLuogoPostDimissione_VPS" displayName="{{x .O.Where}}"/>
										</participantRole>
									</participant>
									<entryRelationship typeCode="RSON">
										<observation classCode="OBS" moodCode="EVN">
											<templateId root="2.16.840.1.113883.2.9.10.1.6.68"/>
											<code code="CLIN" codeSystem="2.16.840.1.113883.2.9.1.11.1.2.13" codeSystemName="ProblemType_VPS" displayName="Motivo clinico"/>
											<statusCode code="completed"/>
											<effectiveTime value="{{.Decision}}"/>
											<value xsi:type="ST">{{x .O.Reason}}</value>
										</observation>
									</entryRelationship>
								</act>
							</entryRelationship>
{{- end}}
{{- if .O.DiagnosisCode}}
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.70"/>
									<code code="29308-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.Decision}}"/>
									<value xsi:type="CD" code="{{x .O.DiagnosisCode}}" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="{{x .O.Diagnosis}}"/>
								</observation>
							</entryRelationship>
{{- end}}
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.69"/>
									<code code="11302-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Esito"/>
									<statusCode code="completed"/>
									<value xsi:type="CD" code="{{x .O.OutcomeCode}}" codeSystem="2.16.840.1.113883.2.9.6.1.54.5" codeSystemName="EsitoTrattamento_VPS" displayName="{{x .O.Outcome}}"/>
								</observation>
							</entryRelationship>
						</act>
					</entry>
{{- if .O.Prognosis}}
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.66"/>
							<code code="75328-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Prognosi"/>
							<text><reference value="#vps-prognosi"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{.Discharge}}"/>
							<value xsi:type="ST">{{x .O.Prognosis}}</value>
						</observation>
					</entry>
{{- end}}
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.72"/>
							<code code="11283-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Livello di appropriatezza"/>
							<statusCode code="completed"/>
							<effectiveTime value="{{.Discharge}}"/>
							<value xsi:type="CD" code="{{x .O.ExitCode}}" codeSystem="2.16.840.1.113883.2.9.6.1.54.4" codeSystemName="CodiceTriage_VPS" displayName="{{x .O.Exit}}"/>
						</observation>
					</entry>
{{- if .O.Death}}
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.86"/>
							<code code="31211-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Data del decesso"/>
							<statusCode code="completed"/>
							<effectiveTime value="{{.Discharge}}"/>
						</observation>
					</entry>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.73"/>
							<code code="45477-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Richiesta di autopsia"/>
							<statusCode code="completed"/>
							<value xsi:type="BL" value="true"/>
						</observation>
					</entry>
{{- end}}
				</section>
			</component>
{{- if .O.Home}}
			<component>
				<section ID="vps-piano">
					<templateId root="2.16.840.1.113883.2.9.10.1.6.34"/>
					<code code="18776-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Piano di cura alla dimissione"/>
					<title>Piano di cura alla dimissione</title>
					<text>
						<list>
							<item><content ID="vps-piano-1">Visita gastroenterologica con esofagogastroduodenoscopia (impegnativa {{x .NRE}}).</content></item>
							<item>Controllo dal medico curante entro 7 giorni; tornare in pronto soccorso in caso di recidiva del dolore.</item>
						</list>
					</text>
					{{template "author" (by .Discharge .Doctor)}}
					<entry>
						<act classCode="ACT" moodCode="INT">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.62"/>
							<code code="45.13" codeSystem="2.16.840.1.113883.6.104" codeSystemName="ICD-9-CM procedure" displayName="Esofagogastroduodenoscopia"/>
							<text><reference value="#vps-piano-1"/></text>
							<statusCode code="active"/>
							{{template "author" (by .Discharge .Doctor)}}
							<reference typeCode="REFR">
								<externalAct classCode="ACT" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.89"/>
									<id root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .NRE}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
								</externalAct>
							</reference>
						</act>
					</entry>
				</section>
			</component>
			<component>
				<section ID="vps-terapia-dimissione">
					<templateId root="2.16.840.1.113883.2.9.10.1.6.74"/>
					<code code="75311-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Terapia farmacologica alla dimissione"/>
					<title>Terapia farmacologica alla dimissione</title>
					<text><content ID="vps-farmaco-dim">Pantoprazolo 20 mg, 1 compressa al mattino a digiuno per 4 settimane (ricetta {{x .NRE2}}).</content></text>
					{{template "author" (by .Discharge .Doctor)}}
					<entry>
						<substanceAdministration classCode="SBADM" moodCode="INT">
							<templateId root="2.16.840.1.113883.2.9.10.1.6.52"/>
							<text><reference value="#vps-farmaco-dim"/></text>
							<statusCode code="active"/>
							<effectiveTime xsi:type="IVL_TS"><low value="{{.Tomorrow}}"/></effectiveTime>
							<effectiveTime xsi:type="PIVL_TS" operator="A" institutionSpecified="true"><period value="24" unit="h"/></effectiveTime>
							<routeCode code="PO" codeSystem="2.16.840.1.113883.5.112" codeSystemName="RouteOfAdministration" displayName="Per os"/>
							<doseQuantity value="1" unit="1"/>
							<consumable>
								<manufacturedProduct classCode="MANU">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.53"/>
									<manufacturedMaterial>
										<code code="031981069" codeSystem="2.16.840.1.113883.2.9.6.1.5" codeSystemName="AIC" displayName="PANTORC 20 mg 28 compresse gastroresistenti">
											<originalText><reference value="#vps-farmaco-dim"/></originalText>
											<translation code="A02BC02" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="pantoprazolo"/>
										</code>
									</manufacturedMaterial>
								</manufacturedProduct>
							</consumable>
							<participant typeCode="REF">{{template "role" .Doctor}}</participant>
							<entryRelationship typeCode="COMP">
								<supply classCode="SPLY" moodCode="RQO">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.924"/>
									<quantity value="1"/>
								</supply>
							</entryRelationship>
							<reference typeCode="REFR">
								<externalAct classCode="ACT" moodCode="EVN">
									<templateId root="2.16.840.1.113883.2.9.10.1.6.89"/>
									<id root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .NRE2}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
								</externalAct>
							</reference>
						</substanceAdministration>
					</entry>
				</section>
			</component>
{{- end}}
		</structuredBody>
	</component>
</ClinicalDocument>
`))
