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

// Lettera di Dimissione Ospedaliera (LDO, LOINC 34105-7): the discharge
// letter of a week's stay in cardiology for a myocardial infarction
// without ST elevation, treated with a coronary stent. It has every
// section the national rules know: the reason for admission (coded), the
// initial assessment (history with a coded chronic problem and an uncoded
// one, examination, home therapy), the hospital course, a complication,
// the significant findings, a consultation, the examinations and the
// procedures (with their reasons), an allergy (agent, reaction,
// criticality, state, comment), the therapy during the stay (a completed
// and an ongoing drug), the conditions and diagnoses at discharge, the
// therapy at discharge and the follow-up. The header carries the data
// enterer, the general practitioner (as participant and recipient), the
// admission request and the ward.
//
// The staff are synthetic people drawn from the document id, so the same
// Document always gives the same letter. A replacement (d.Version > 1
// with d.Replaces, an id root^extension) keeps the set id of the document
// it replaces.

func init() { registerNational("LDO", buildLDO) }

// ldoPerson is a synthetic member of staff.
type ldoPerson struct{ CF, Family, Given string }

type ldoData struct {
	D                     Document
	SetExt                string
	ParentRoot, ParentExt string
	ParentVersion         int
	Birth                 string
	BirthCity             ldoCity
	// The stay's times.
	TS, Admission, Angio, AngioEnd, Hematoma, HematomaEnd, Echo, Lab, Consult, Discharge, Entered string
	Therapy, TherapyEnd, Tomorrow                                                                 string
	// Dates (day precision) of the history.
	Hypertension, SmokeFrom, SmokeTo, Allergy string
	// The staff.
	Enterer, Director, Cardiologist, Interventional, Diabetologist, Echographer, Nurse, GP ldoPerson
	NRE                                                                                    string
	StayDrugs, HomeDrugs                                                                   []ldoDrug
}

// ldoCity is a birthplace: the city and its ISTAT code.
type ldoCity struct{ Name, County, ISTAT string }

// ldoCities maps the cadastral codes synth's patients are born in.
var ldoCities = map[string]ldoCity{
	"H501": {"Roma", "RM", "058091"}, "F205": {"Milano", "MI", "015146"}, "F839": {"Napoli", "NA", "063049"},
	"A662": {"Bari", "BA", "072006"}, "L219": {"Torino", "TO", "001272"},
}

func buildLDO(d Document) []byte {
	rome := time.FixedZone("", 3600)
	end := d.Time.In(rome)
	ts := func(t time.Time) string { return t.Format("20060102150405-0700") }
	day := func(t time.Time) string { return t.Format("20060102") }
	// Admitted from the emergency department six days before, at night.
	adm := time.Date(end.Year(), end.Month(), end.Day()-6, 2, 40, 0, 0, rome)
	at := func(days int, hour, min int) time.Time {
		return time.Date(adm.Year(), adm.Month(), adm.Day()+days, hour, min, 0, 0, rome)
	}
	data := ldoData{
		D: d, SetExt: d.LocalID, Birth: day(d.Patient.BirthDate), BirthCity: ldoCities["H501"],
		TS: ts(end), Admission: ts(adm),
		Angio: ts(at(0, 9, 10)), AngioEnd: ts(at(0, 10, 5)), Hematoma: ts(at(0, 18, 0)), HematomaEnd: ts(at(2, 9, 0)),
		Echo: ts(at(1, 11, 30)), Lab: ts(at(0, 6, 30)), Consult: ts(at(3, 15, 0)),
		Therapy: ts(adm.Add(20 * time.Minute)), TherapyEnd: ts(at(3, 20, 0)),
		Discharge: ts(end.Add(-time.Hour)), Entered: ts(end.Add(-20 * time.Minute)), Tomorrow: day(end.AddDate(0, 0, 1)),
		Hypertension: day(afterBirth(d, end.AddDate(-8, 0, 0))), SmokeFrom: day(smokeFrom(d, end)),
		SmokeTo: day(smokeTo(d, end)), Allergy: day(afterBirth(d, end.AddDate(-12, 0, 0))),
		StayDrugs: ldoStayDrugs, HomeDrugs: ldoHomeDrugs,
	}
	if len(d.Patient.CF) == 16 {
		if c, ok := ldoCities[d.Patient.CF[11:15]]; ok {
			data.BirthCity = c
		}
	}
	h := fnv.New64a()
	h.Write([]byte(d.ID() + "#ldo"))
	rng := rand.New(rand.NewPCG(h.Sum64(), 5))
	staff := make([]ldoPerson, 8)
	for i := range staff {
		staff[i] = ldoStaff(rng)
	}
	data.Enterer, data.Director, data.Cardiologist, data.Interventional = staff[0], staff[1], staff[2], staff[3]
	data.Diabetologist, data.Echographer, data.Nurse, data.GP = staff[4], staff[5], staff[6], staff[7]
	data.NRE = fmt.Sprintf("%sA%011d", d.Region, rng.Int64N(1e11))
	if d.Replaces != "" {
		root, ext, _ := strings.Cut(d.Replaces, "^")
		data.ParentRoot, data.ParentExt, data.SetExt = root, ext, ext
		data.ParentVersion = max(d.Version-1, 1)
	}
	var out bytes.Buffer
	if err := ldoTemplate.Execute(&out, data); err != nil {
		panic(fmt.Sprintf("synth: LDO template: %v", err)) // a bug, not input
	}
	return out.Bytes()
}

// ldoStaff draws a synthetic adult member of staff, with a well-formed
// codice fiscale.
func ldoStaff(rng *rand.Rand) ldoPerson {
	p := Patient{Family: families[rng.IntN(len(families))], Gender: "M", Given: givenM[rng.IntN(len(givenM))]}
	if rng.IntN(2) == 0 {
		p.Gender, p.Given = "F", givenF[rng.IntN(len(givenF))]
	}
	p.BirthDate = time.Date(1960+rng.IntN(35), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
	return ldoPerson{CF: codiceFiscale(p, places[rng.IntN(len(places))], rng), Family: p.Family, Given: p.Given}
}

// ldoDrug is a drug of the therapy during the stay or at discharge.
type ldoDrug struct {
	ID, Code, System, SystemName, Name string
	Text, Dose, Unit, Period           string
	Strength                           string // mg per unit, for a coded package
}

var (
	// During the stay: enoxaparin until the angioplasty's fourth day
	// (completed), ticagrelor from the first day on (still active).
	ldoStayDrugs = []ldoDrug{
		{ID: "ldo-tf-1", Code: "B01AB05", System: "2.16.840.1.113883.6.73", SystemName: "WHO ATC", Name: "enoxaparina",
			Text: "Enoxaparina 6000 UI sottocute ogni 12 ore", Dose: "6000", Unit: "[iU]", Period: "12"},
		{ID: "ldo-tf-2", Code: "B01AC24", System: "2.16.840.1.113883.6.73", SystemName: "WHO ATC", Name: "ticagrelor",
			Text: "Ticagrelor 90 mg per os ogni 12 ore", Dose: "90", Unit: "mg", Period: "12"},
	}
	ldoHomeDrugs = []ldoDrug{
		{ID: "ldo-td-1", Code: "B01AC06", System: "2.16.840.1.113883.6.73", SystemName: "WHO ATC", Name: "acido acetilsalicilico",
			Text: "Acido acetilsalicilico 100 mg, 1 compressa a pranzo", Dose: "100", Unit: "mg", Period: "24"},
		{ID: "ldo-td-2", Code: "B01AC24", System: "2.16.840.1.113883.6.73", SystemName: "WHO ATC", Name: "ticagrelor",
			Text: "Ticagrelor 90 mg, 1 compressa ogni 12 ore per 12 mesi", Dose: "90", Unit: "mg", Period: "12"},
		{ID: "ldo-td-3", Code: "C10AA05", System: "2.16.840.1.113883.6.73", SystemName: "WHO ATC", Name: "atorvastatina",
			Text: "Atorvastatina 80 mg, 1 compressa la sera", Dose: "80", Unit: "mg", Period: "24"},
		{ID: "ldo-td-4", Code: "C07AB07", System: "2.16.840.1.113883.6.73", SystemName: "WHO ATC", Name: "bisoprololo",
			Text: "Bisoprololo 2,5 mg, 1 compressa al mattino", Dose: "2.5", Unit: "mg", Period: "24"},
		{ID: "ldo-td-5", Code: "A10BA02", System: "2.16.840.1.113883.6.73", SystemName: "WHO ATC", Name: "metformina",
			Text: "Metformina 500 mg, 1 compressa a pranzo e 1 a cena", Dose: "500", Unit: "mg", Period: "12"},
		{ID: "ldo-td-6", Code: "031981069", System: "2.16.840.1.113883.2.9.6.1.5", SystemName: "AIC", Name: "PANTORC 20 mg 28 compresse gastroresistenti",
			Text: "Pantoprazolo 20 mg, 1 compressa al mattino a digiuno", Dose: "1", Unit: "1", Period: "24", Strength: "20"},
	}
)

var ldoTemplate = template.Must(template.New("LDO").Funcs(template.FuncMap{"x": xmlText}).Parse(`
{{- define "id"}}<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .CF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>{{end}}
{{- define "name"}}<name><family>{{x .Family}}</family><given>{{x .Given}}</given></name>{{end}}
{{- define "entity"}}<assignedEntity>{{template "id" .}}<assignedPerson>{{template "name" .}}</assignedPerson></assignedEntity>{{end}}
{{- define "role"}}<participantRole>{{template "id" .}}<playingEntity>{{template "name" .}}</playingEntity></participantRole>{{end -}}
<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="2.16.840.1.113883.2.9.10.1.5" extension="1.2"/>
	<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .D.LocalID}}" assigningAuthorityName="Documento sintetico"/>
	<code code="34105-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Lettera di dimissione ospedaliera"/>
	<title>Lettera di dimissione ospedaliera (documento sintetico)</title>
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
			<telecom use="WP" value="mailto:cardiologia@struttura-sintetica.invalid"/>
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
	<informationRecipient>
		<intendedRecipient>
			{{template "id" .GP}}
			<informationRecipient>{{template "name" .GP}}</informationRecipient>
		</intendedRecipient>
	</informationRecipient>
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
	<inFulfillmentOf>
		<order classCode="ACT" moodCode="RQO">
			<id root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .NRE}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<priorityCode code="UR" codeSystem="2.16.840.1.113883.5.7" codeSystemName="HL7 ActPriority" displayName="Urgente"/>
		</order>
	</inFulfillmentOf>
	<documentationOf>
		<serviceEvent>
			<effectiveTime>
				<low value="{{.Admission}}"/>
				<high value="{{.Discharge}}"/>
			</effectiveTime>
			<performer typeCode="PRF">
				{{template "entity" .Cardiologist}}
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
			<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.6" extension="SDO-{{x .D.LocalID}}" assigningAuthorityName="Struttura sintetica {{x .D.Org}}"/>
			<code code="IMP" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Ricovero ordinario"/>
			<effectiveTime>
				<low value="{{.Admission}}"/>
				<high value="{{.Discharge}}"/>
			</effectiveTime>
			<responsibleParty>
				{{template "entity" .Director}}
			</responsibleParty>
			<location>
				<healthCareFacility>
					<id root="2.16.840.1.113883.2.9.4.1.6" extension="{{x .D.Org}}.0801" assigningAuthorityName="Ministero della Salute"/>
					<location>
						<name>Cardiologia e unità coronarica</name>
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
				<section ID="ldo-motivo">
					<code code="46241-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Motivo del ricovero"/>
					<title>Motivo del ricovero</title>
					<text><content ID="ldo-motivo-1">Sindrome coronarica acuta senza sopraslivellamento del tratto ST, dal pronto soccorso.</content></text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="8646-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi di accettazione"/>
							<text><reference value="#ldo-motivo-1"/></text>
							<statusCode code="completed"/>
							<value xsi:type="CD" code="410.71" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Infarto subendocardico, episodio iniziale di assistenza"/>
						</observation>
					</entry>
				</section>
			</component>
			<component>
				<section ID="ldo-inquadramento">
					<code code="47039-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Inquadramento clinico iniziale"/>
					<title>Inquadramento clinico iniziale</title>
					<text>Paziente giunto dal pronto soccorso per dolore toracico con curva della troponina in incremento.</text>
					<component>
						<section ID="ldo-anamnesi">
							<code code="11329-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Anamnesi"/>
							<title>Anamnesi</title>
							<text>
								<list>
									<item><content ID="ldo-anam-1">Ipertensione arteriosa essenziale in trattamento.</content></item>
									<item><content ID="ldo-anam-2">Ex fumatore (20 sigarette al giorno), ha smesso da cinque anni.</content></item>
								</list>
							</text>
							<entry>
								<observation classCode="OBS" moodCode="EVN">
									<code code="75326-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Problema"/>
									<text><reference value="#ldo-anam-1"/></text>
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
									<code code="75326-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Problema"/>
									<statusCode code="completed"/>
									<effectiveTime><low value="{{.SmokeFrom}}"/><high value="{{.SmokeTo}}"/></effectiveTime>
									<value xsi:type="CD"><originalText><reference value="#ldo-anam-2"/></originalText></value>
									<entryRelationship typeCode="REFR" inversionInd="false">
										<observation classCode="OBS" moodCode="EVN">
											<code code="33999-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato clinico"/>
											<statusCode code="completed"/>
											<value xsi:type="CD" code="LA18632-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Inattivo"/>
										</observation>
									</entryRelationship>
								</observation>
							</entry>
						</section>
					</component>
					<component>
						<section ID="ldo-esame-obiettivo">
							<code code="29545-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Esame obiettivo"/>
							<title>Esame obiettivo</title>
							<text>Paziente vigile, orientato, eupnoico a riposo. Toni cardiaci validi, ritmici, non soffi. Murmure vescicolare su tutto l'ambito. Addome trattabile. Non edemi declivi. Pressione arteriosa 150/90 mmHg, frequenza cardiaca 90/min.</text>
						</section>
					</component>
					<component>
						<section ID="ldo-terapia-ingresso">
							<code code="42346-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Terapia farmacologica all'ingresso"/>
							<title>Terapia farmacologica all'ingresso</title>
							<text>Ramipril 5 mg, 1 compressa al mattino.</text>
						</section>
					</component>
				</section>
			</component>
			<component>
				<section ID="ldo-decorso">
					<code code="8648-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Decorso ospedaliero"/>
					<title>Decorso ospedaliero</title>
					<text>Ricoverato in unità coronarica, eseguita il mattino seguente la coronarografia con angioplastica e impianto di stent medicato sul ramo discendente anteriore. Decorso successivo regolare, salvo un ematoma in sede di accesso femorale trattato conservativamente. Trasferito in degenza ordinaria in terza giornata, mobilizzato senza recidive anginose.</text>
				</section>
			</component>
			<component>
				<section ID="ldo-complicanze">
					<code code="55109-3" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Complicanze"/>
					<title>Complicanze</title>
					<text><content ID="ldo-compl-1">Ematoma in sede di accesso femorale destro, trattato con compressione, senza necessità di trasfusione.</content></text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="75326-9" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Problema"/>
							<text><reference value="#ldo-compl-1"/></text>
							<statusCode code="completed"/>
							<effectiveTime><low value="{{.Hematoma}}"/><high value="{{.HematomaEnd}}"/></effectiveTime>
							<value xsi:type="CD" code="998.12" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Ematoma complicante una procedura"/>
						</observation>
					</entry>
				</section>
			</component>
			<component>
				<section ID="ldo-riscontri">
					<code code="11493-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Riscontri ed accertamenti significativi"/>
					<title>Riscontri ed accertamenti significativi</title>
					<text>Malattia coronarica monovasale del ramo discendente anteriore. Funzione sistolica ventricolare sinistra lievemente ridotta. Diabete mellito tipo 2 di nuova diagnosi (emoglobina glicata 7,4%).</text>
				</section>
			</component>
			<component>
				<section ID="ldo-consulenza">
					<code code="34104-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Consulenza"/>
					<title>Consulenza</title>
					<text><content ID="ldo-cons-1">Consulenza diabetologica: diabete mellito tipo 2 di nuova diagnosi; avviata metformina, educazione alimentare, controllo ambulatoriale a tre mesi.</content></text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="11488-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Consulenza diabetologica"/>
							<text><reference value="#ldo-cons-1"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{.Consult}}"/>
							<value xsi:type="ST">Diabete mellito tipo 2 di nuova diagnosi: metformina 500 mg due volte al giorno, controllo a tre mesi.</value>
							<performer>
								<time value="{{.Consult}}"/>
								{{template "entity" .Diabetologist}}
							</performer>
							<participant typeCode="REF">
								<time value="{{.Consult}}"/>
								{{template "role" .Cardiologist}}
							</participant>
						</observation>
					</entry>
				</section>
			</component>
			<component>
				<section ID="ldo-esami">
					<code code="30954-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Esami eseguiti durante il ricovero"/>
					<title>Esami eseguiti durante il ricovero</title>
					<text>
						<table>
							<thead><tr><th>Esame</th><th>Esito</th></tr></thead>
							<tbody>
								<tr><td>Ecocardiogramma transtoracico</td><td ID="ldo-esame-1">Ipocinesia del setto anteriore e dell'apice, frazione di eiezione 48%.</td></tr>
								<tr><td>Emoglobina glicata</td><td ID="ldo-esame-2">7,4%</td></tr>
							</tbody>
						</table>
					</text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="34552-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Ecocardiogramma transtoracico"/>
							<text><reference value="#ldo-esame-1"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{.Echo}}"/>
							<value xsi:type="ST">Ipocinesia del setto anteriore e dell'apice, frazione di eiezione 48%.</value>
							<performer>{{template "entity" .Echographer}}</performer>
							<participant typeCode="REF">{{template "role" .Cardiologist}}</participant>
						</observation>
					</entry>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="4548-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Emoglobina glicata (HbA1c)"/>
							<text><reference value="#ldo-esame-2"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{.Lab}}"/>
							<value xsi:type="PQ" value="7.4" unit="%"/>
						</observation>
					</entry>
				</section>
			</component>
			<component>
				<section ID="ldo-procedure">
					<code code="47519-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Procedure eseguite durante il ricovero"/>
					<title>Procedure eseguite durante il ricovero</title>
					<text>
						<list>
							<item><content ID="ldo-proc-1">Coronarografia per via femorale destra.</content></item>
							<item><content ID="ldo-proc-2">Angioplastica del ramo discendente anteriore con impianto di uno stent medicato.</content></item>
						</list>
					</text>
					<entry>
						<procedure classCode="PROC" moodCode="EVN">
							<code code="88.56" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Arteriografia coronarica con catetere doppio"/>
							<text><reference value="#ldo-proc-1"/></text>
							<statusCode code="completed"/>
							<effectiveTime><low value="{{.Angio}}"/><high value="{{.AngioEnd}}"/></effectiveTime>
							<performer>{{template "entity" .Interventional}}</performer>
							<entryRelationship typeCode="RSON">
								<observation classCode="OBS" moodCode="EVN">
									<code code="410.71" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Infarto subendocardico, episodio iniziale di assistenza"/>
									<statusCode code="completed"/>
								</observation>
							</entryRelationship>
						</procedure>
					</entry>
					<entry>
						<procedure classCode="PROC" moodCode="EVN">
							<code code="36.07" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Inserzione di stent coronarico medicato"/>
							<text><reference value="#ldo-proc-2"/></text>
							<statusCode code="completed"/>
							<effectiveTime><low value="{{.Angio}}"/><high value="{{.AngioEnd}}"/></effectiveTime>
							<performer>{{template "entity" .Interventional}}</performer>
							<entryRelationship typeCode="RSON">
								<observation classCode="OBS" moodCode="EVN">
									<code code="414.01" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Aterosclerosi coronarica di arteria coronarica nativa"/>
									<statusCode code="completed"/>
								</observation>
							</entryRelationship>
						</procedure>
					</entry>
				</section>
			</component>
			<component>
				<section ID="ldo-allergie">
					<code code="48765-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergie e/o reazioni avverse"/>
					<title>Allergie</title>
					<text><content ID="ldo-all-1">Allergia all'amoxicillina</content>: <content ID="ldo-all-1-reaz">orticaria generalizzata</content>, criticità <content ID="ldo-all-1-crit">bassa</content>, <content ID="ldo-all-1-stato">attiva</content>. <content ID="ldo-all-1-nota">Evitare le penicilline.</content></text>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<code nullFlavor="NA"/>
							<statusCode code="active"/>
							<effectiveTime><low value="{{.Allergy}}"/></effectiveTime>
							<entryRelationship typeCode="SUBJ">
								<observation classCode="OBS" moodCode="EVN">
									<code code="52473-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Allergia o causa della reazione"/>
									<text><reference value="#ldo-all-1"/></text>
									<statusCode code="completed"/>
									<effectiveTime><low value="{{.Allergy}}"/></effectiveTime>
									<value xsi:type="CD" code="DALG" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ObservationIntoleranceType" displayName="Allergia a farmaco">
										<originalText><reference value="#ldo-all-1"/></originalText>
									</value>
									<participant typeCode="CSM">
										<participantRole classCode="MANU">
											<playingEntity classCode="MMAT">
												<code code="J01CA04" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="amoxicillina"/>
											</playingEntity>
										</participantRole>
									</participant>
									<entryRelationship typeCode="MFST" inversionInd="true">
										<observation classCode="OBS" moodCode="EVN">
											<code code="75321-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Obiettività clinica"/>
											<text><reference value="#ldo-all-1-reaz"/></text>
											<statusCode code="completed"/>
											<effectiveTime><low value="{{.Allergy}}"/><high value="{{.Allergy}}"/></effectiveTime>
											<value xsi:type="CD" code="708.9" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Orticaria, non specificata">
												<originalText><reference value="#ldo-all-1-reaz"/></originalText>
											</value>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="SUBJ" inversionInd="true">
										<observation classCode="OBS" moodCode="EVN">
											<code code="SEV" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Criticità"/>
											<text><reference value="#ldo-all-1-crit"/></text>
											<statusCode code="completed"/>
											<value xsi:type="CD" code="L" codeSystem="2.16.840.1.113883.5.1063" codeSystemName="CriticalityObservation" displayName="Bassa"/>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="REFR">
										<observation classCode="OBS" moodCode="EVN">
											<code code="33999-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Stato"/>
											<text><reference value="#ldo-all-1-stato"/></text>
											<statusCode code="completed"/>
											<value xsi:type="CD" code="LA16666-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Attivo"/>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="SUBJ" inversionInd="true">
										<act classCode="ACT" moodCode="EVN">
											<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Commenti"/>
											<text><reference value="#ldo-all-1-nota"/></text>
											<statusCode code="completed"/>
										</act>
									</entryRelationship>
								</observation>
							</entryRelationship>
						</act>
					</entry>
				</section>
			</component>
			<component>
				<section ID="ldo-terapia-ricovero">
					<code code="10160-0" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Terapia farmacologica effettuata durante il ricovero"/>
					<title>Terapia farmacologica effettuata durante il ricovero</title>
					<text>
						<list>
{{- range .StayDrugs}}
							<item><content ID="{{.ID}}">{{x .Text}}</content></item>
{{- end}}
						</list>
					</text>
{{- range $i, $m := .StayDrugs}}
					<entry>
						<substanceAdministration classCode="SBADM" moodCode="EVN">
							<text><reference value="#{{$m.ID}}"/></text>
{{- if eq $i 0}}
							<statusCode code="completed"/>
							<effectiveTime xsi:type="IVL_TS"><low value="{{$.Therapy}}"/><high value="{{$.TherapyEnd}}"/></effectiveTime>
{{- else}}
							<statusCode code="active"/>
							<effectiveTime xsi:type="IVL_TS"><low value="{{$.Therapy}}"/></effectiveTime>
{{- end}}
							<effectiveTime xsi:type="PIVL_TS" operator="A" institutionSpecified="true"><period value="{{$m.Period}}" unit="h"/></effectiveTime>
							<doseQuantity value="{{x $m.Dose}}" unit="{{x $m.Unit}}"/>
							<consumable>
								<manufacturedProduct classCode="MANU">
									<manufacturedMaterial>
										<code code="{{x $m.Code}}" codeSystem="{{x $m.System}}" codeSystemName="{{x $m.SystemName}}" displayName="{{x $m.Name}}"/>
									</manufacturedMaterial>
								</manufacturedProduct>
							</consumable>
							<performer>{{template "entity" $.Nurse}}</performer>
							<participant typeCode="REF">{{template "role" $.Cardiologist}}</participant>
							<entryRelationship typeCode="COMP">
								<supply classCode="SPLY" moodCode="EVN">
									<quantity value="{{if eq $i 0}}8{{else}}14{{end}}"/>
								</supply>
							</entryRelationship>
						</substanceAdministration>
					</entry>
{{- end}}
				</section>
			</component>
			<component>
				<section ID="ldo-dimissione">
					<code code="11535-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Condizioni del paziente e diagnosi alla dimissione"/>
					<title>Condizioni del paziente e diagnosi alla dimissione</title>
					<text>
						<paragraph>Paziente dimesso in buone condizioni generali, asintomatico, emodinamicamente stabile.</paragraph>
						<list>
							<item><content ID="ldo-diag-1">Infarto miocardico senza sopraslivellamento del tratto ST trattato con angioplastica e stent medicato.</content></item>
							<item><content ID="ldo-diag-2">Diabete mellito tipo 2 di nuova diagnosi.</content></item>
						</list>
					</text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="8651-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi di dimissione"/>
							<text><reference value="#ldo-diag-1"/></text>
							<statusCode code="completed"/>
							<value xsi:type="CD" code="410.71" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Infarto subendocardico, episodio iniziale di assistenza"/>
						</observation>
					</entry>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<code code="8651-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Diagnosi di dimissione"/>
							<text><reference value="#ldo-diag-2"/></text>
							<statusCode code="completed"/>
							<value xsi:type="CD" code="250.00" codeSystem="2.16.840.1.113883.6.103" codeSystemName="ICD-9-CM" displayName="Diabete mellito tipo II senza menzione di complicazioni, non definito se scompensato"/>
						</observation>
					</entry>
				</section>
			</component>
			<component>
				<section ID="ldo-terapia-dimissione">
					<code code="10183-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Terapia farmacologica alla dimissione"/>
					<title>Terapia farmacologica alla dimissione</title>
					<text>
						<list>
{{- range .HomeDrugs}}
							<item><content ID="{{.ID}}">{{x .Text}}</content></item>
{{- end}}
						</list>
					</text>
{{- range .HomeDrugs}}
					<entry>
						<substanceAdministration classCode="SBADM" moodCode="INT">
							<text><reference value="#{{.ID}}"/></text>
							<statusCode code="active"/>
							<effectiveTime xsi:type="IVL_TS"><low value="{{$.Tomorrow}}"/></effectiveTime>
							<effectiveTime xsi:type="PIVL_TS" operator="A" institutionSpecified="true"><period value="{{.Period}}" unit="h"/></effectiveTime>
							<routeCode code="PO" codeSystem="2.16.840.1.113883.5.112" codeSystemName="RouteOfAdministration" displayName="Per os"/>
							<doseQuantity value="{{x .Dose}}" unit="{{x .Unit}}"/>
							<consumable>
								<manufacturedProduct classCode="MANU">
									<manufacturedMaterial>
										<code code="{{x .Code}}" codeSystem="{{x .System}}" codeSystemName="{{x .SystemName}}" displayName="{{x .Name}}">
											<originalText><reference value="#{{.ID}}"/></originalText>
{{- if .Strength}}
											<translation code="A02BC02" codeSystem="2.16.840.1.113883.6.73" codeSystemName="WHO ATC" displayName="pantoprazolo"/>
{{- end}}
										</code>
									</manufacturedMaterial>
								</manufacturedProduct>
							</consumable>
							<participant typeCode="REF">{{template "role" $.Cardiologist}}</participant>
{{- if .Strength}}
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<code nullFlavor="NA"><originalText>Grammatura</originalText></code>
									<value xsi:type="PQ" value="{{x .Strength}}" unit="mg"/>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="COMP">
								<supply classCode="SPLY" moodCode="RQO">
									<quantity value="1"/>
								</supply>
							</entryRelationship>
{{- end}}
						</substanceAdministration>
					</entry>
{{- end}}
				</section>
			</component>
			<component>
				<section ID="ldo-follow-up">
					<code code="18776-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Istruzioni di follow-up"/>
					<title>Istruzioni di follow-up</title>
					<text>
						<list>
							<item>Visita cardiologica di controllo con ECG ed ecocardiogramma a 30 giorni.</item>
							<item>Programma di riabilitazione cardiologica ambulatoriale.</item>
							<item>Controllo diabetologico a tre mesi con emoglobina glicata; dieta ipoglucidica e ipolipidica.</item>
							<item>Non sospendere la doppia antiaggregazione senza il parere del cardiologo.</item>
						</list>
					</text>
				</section>
			</component>
		</structuredBody>
	</component>
</ClinicalDocument>
`))

// afterBirth is t, or the patient's birth day when t is earlier.
func afterBirth(d Document, t time.Time) time.Time {
	if t.Before(d.Patient.BirthDate) {
		return d.Patient.BirthDate
	}
	return t
}

// smokeTo is when the patient stopped smoking: five years before the
// discharge, or, for a young patient, half way from birth to it.
func smokeTo(d Document, end time.Time) time.Time {
	to := end.AddDate(-5, 0, 0)
	if !to.After(d.Patient.BirthDate) {
		to = d.Patient.BirthDate.Add(end.Sub(d.Patient.BirthDate) / 2)
	}
	return to
}

// smokeFrom is when the patient began smoking: at 18, or a year before
// stopping for a younger patient (never before birth).
func smokeFrom(d Document, end time.Time) time.Time {
	from, to := d.Patient.BirthDate.AddDate(18, 0, 0), smokeTo(d, end)
	if !from.Before(to) {
		from = afterBirth(d, to.AddDate(-1, 0, 0))
	}
	return from
}
