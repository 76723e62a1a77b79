package synth

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"sync"
	"text/template"
)

// The Referto di laboratorio (LOINC 11502-2), as HL7 Italia's guide and
// the national schematron (schematronFSE_LAB_v27.1) shape it: specialty
// sections (ematologia, chimica clinica, esami delle urine,
// microbiologia) of leaf sections, each with one entry act carrying the
// specimen, its collection time and site, and the results, alone or in
// batteries; a potassium not measured on a haemolysed sample, a creatinine
// clearance from two specimens, a urine culture whose isolate has its
// antibiogram and a photograph of the plate.

func init() { registerNational("LAB", buildLAB) }

// labResult is one result: a quantity with its reference range, or a
// text; a result aborted has neither value nor range.
type labResult struct {
	Ref, Code, Name        string
	Value, Unit, Shown     string // a quantity (Unit UCUM, Shown as printed)
	Text                   string // or a text result
	Low, High, RangeText   string
	Interp, InterpName     string
	Method, MethodName     string // an ObservationMethod, for a calculated result
	Specimen, SpecimenCode string // the specimen (its id's name and type) when the act has several
	Aborted                bool
}

type labData struct {
	nationalHeader
	Biologist, Technician, Prescriber, Director, GP nationalPerson
	NRE, Lab                                        string
	Blood, Lipids, Electrolytes, Clearance, Urine   []labResult
	Susceptibility                                  []labResult
	Colonies                                        labResult
	Plate                                           string
}

// labPlate is a small picture of a culture plate, as a PNG in base64.
var labPlate = sync.OnceValue(func() string {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for y := range 16 {
		for x := range 16 {
			c := color.RGBA{200, 170, 120, 255} // agar
			if (x-8)*(x-8)+(y-8)*(y-8) > 49 {
				c = color.RGBA{240, 240, 240, 255} // the plate's rim
			} else if (x*7+y*3)%11 == 0 {
				c = color.RGBA{230, 220, 200, 255} // colonies
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
})

func buildLAB(d Document) []byte {
	h := newNationalHeader(d)
	child := h.Age() < 18
	l := labData{nationalHeader: h, Lab: "Laboratorio analisi sintetico " + d.Org, Plate: labPlate()}
	l.Biologist = l.Author
	l.Technician = h.staff(11, "Esempio", "Chiara", "F", 1990)
	l.Prescriber = h.staff(12, "Fittizio", "Marco", "M", 1970)
	l.Director = h.staff(13, "Campione", "Sara", "F", 1966)
	l.GP = l.Prescriber
	rng := h.rand(2)
	l.NRE = fmt.Sprintf("%sA%011d", d.Region, rng.Int64N(1e11))
	num := func(lo, hi int) int { return lo + rng.IntN(hi-lo+1) }
	dec := func(lo, hi int) string { v := num(lo, hi); return fmt.Sprintf("%d.%d", v/10, v%10) }

	flag := func(r labResult) labResult {
		r.Interp, r.InterpName = "N", "Normale"
		v, err1 := strconv.ParseFloat(r.Value, 64)
		lo, err2 := strconv.ParseFloat(r.Low, 64)
		hi, err3 := strconv.ParseFloat(r.High, 64)
		switch {
		case err1 != nil || err2 != nil || err3 != nil:
		case v < lo:
			r.Interp, r.InterpName = "L", "Basso"
		case v > hi:
			r.Interp, r.InterpName = "H", "Alto"
		}
		return r
	}
	q := func(ref, code, name, value, unit, shown, low, high string) labResult {
		return flag(labResult{Ref: ref, Code: code, Name: name, Value: value, Unit: unit, Shown: shown, Low: low, High: high})
	}
	hbLow, hbHigh := "13.5", "17.5"
	if h.Female {
		hbLow, hbHigh = "12.0", "16.0"
	}
	hb := dec(118, 162)
	if child {
		hbLow, hbHigh, hb = "11.0", "14.5", dec(112, 140)
	}
	l.Blood = []labResult{
		q("emo-gr", "789-8", "Eritrociti", dec(40, 58), "10*6/uL", "x10^6/µL", "4.0", "5.9"),
		q("emo-hb", "718-7", "Emoglobina", hb, "g/dL", "g/dL", hbLow, hbHigh),
		q("emo-hct", "4544-3", "Ematocrito", strconv.Itoa(num(36, 48)), "%", "%", "36", "50"),
		q("emo-gb", "6690-2", "Leucociti", dec(42, 98), "10*3/uL", "x10^3/µL", "4.0", "10.0"),
		q("emo-plt", "777-3", "Piastrine", strconv.Itoa(num(170, 380)), "10*3/uL", "x10^3/µL", "150", "400"),
	}

	total, hdl, tg := num(160, 235), num(40, 70), num(70, 190)
	ldl := q("lip-ldl", "13457-7", "Colesterolo LDL (calcolato)", strconv.Itoa(total-hdl-tg/5), "mg/dL", "mg/dL", "0", "115")
	ldl.Method, ldl.MethodName = "ALGM", "Algoritmo (formula di Friedewald)"
	l.Lipids = []labResult{
		q("lip-col", "2093-3", "Colesterolo totale", strconv.Itoa(total), "mg/dL", "mg/dL", "0", "200"),
		q("lip-hdl", "2085-9", "Colesterolo HDL", strconv.Itoa(hdl), "mg/dL", "mg/dL", "40", "100"),
		q("lip-tg", "2571-8", "Trigliceridi", strconv.Itoa(tg), "mg/dL", "mg/dL", "0", "150"),
		ldl,
	}

	l.Electrolytes = []labResult{
		q("ele-na", "2951-2", "Sodio", strconv.Itoa(num(136, 145)), "mmol/L", "mmol/L", "136", "145"),
		{Ref: "ele-k", Code: "2823-3", Name: "Potassio", Aborted: true},
	}

	creaLow, creaHigh, serum := "0.5", "1.2", "0."+strconv.Itoa(num(6, 9))
	if child {
		creaLow, creaHigh, serum = "0.2", "0.6", "0."+strconv.Itoa(num(3, 5))
	}
	serumCrea := q("cle-crs", "2160-0", "Creatinina (siero)", serum, "mg/dL", "mg/dL", creaLow, creaHigh)
	serumCrea.Specimen, serumCrea.SpecimenCode = "cle-siero", "SER"
	urineCrea := q("cle-cru", "2162-6", "Creatinina (urine delle 24 ore)", strconv.Itoa(num(900, 1600)), "mg/(24.h)", "mg/24 h", "800", "2000")
	urineCrea.Specimen, urineCrea.SpecimenCode = "cle-urine", "UR"
	clearance := q("cle-cl", "2164-2", "Clearance della creatinina", strconv.Itoa(num(88, 128)), "mL/min", "mL/min", "80", "140")
	clearance.Method, clearance.MethodName = "ALGM", "Algoritmo (calcolo dalla creatininuria delle 24 ore)"
	l.Clearance = []labResult{serumCrea, urineCrea, clearance}

	l.Urine = []labResult{
		q("uri-ph", "2756-5", "pH", dec(50, 70), "[pH]", "", "5.0", "7.5"),
		q("uri-ps", "2965-2", "Peso specifico", "1.0"+strconv.Itoa(num(10, 25)), "1", "", "1.005", "1.030"),
		{Ref: "uri-glu", Code: "2350-7", Name: "Glucosio", Text: "Assente", RangeText: "Assente", Interp: "N", InterpName: "Normale"},
		{Ref: "uri-pro", Code: "2888-6", Name: "Proteine", Text: "Assenti", RangeText: "Assenti", Interp: "N", InterpName: "Normale"},
	}

	l.Colonies = labResult{Ref: "mic-conta", Code: "19090-0", Name: "Carica batterica", Value: "100000", Unit: "{CFU}/mL", Shown: "UFC/mL", Interp: "A", InterpName: "Anormale"}
	sir := func(ref, code, name, mic, s string) labResult {
		r := labResult{Ref: ref, Code: code, Name: name, Value: mic, Unit: "ug/mL", Shown: "µg/mL", Interp: s}
		r.InterpName = map[string]string{"S": "Sensibile", "I": "Intermedio", "R": "Resistente"}[s]
		return r
	}
	l.Susceptibility = []labResult{
		sir("abg-amc", "18862-3", "Amoxicillina/acido clavulanico", "4", "S"),
		sir("abg-cip", "18906-8", "Ciprofloxacina", "4", "R"),
		sir("abg-nit", "18955-5", "Nitrofurantoina", "16", "S"),
		sir("abg-sxt", "18998-5", "Trimetoprim/sulfametossazolo", "2", "S"),
	}
	return nationalRender(labTemplate, l)
}

var labTemplate = template.Must(template.New("LAB").Funcs(nationalFuncs).Parse(`<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="2.16.840.1.113883.2.9.10.1.1" extension="1.3"/>
	<id root="{{x .Root}}" extension="{{x .Ext}}" assigningAuthorityName="Documento sintetico"/>
	<code code="11502-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Referto di laboratorio"/>
	<title>Referto di laboratorio (documento sintetico di prova)</title>
	<effectiveTime value="{{.TS}}"/>
	<confidentialityCode code="{{x .Conf}}" codeSystem="2.16.840.1.113883.5.25" codeSystemName="HL7 Confidentiality"/>
	<languageCode code="it-IT"/>
	<setId root="{{x .Root}}" extension="{{x .SetExt}}" assigningAuthorityName="Documento sintetico"/>
	<versionNumber value="{{.Version}}"/>
	<recordTarget>
		<patientRole>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .P.CF}}" assigningAuthorityName="MEF"/>
			<addr use="H">
				<country>100</country>
				<county>{{.Home.Province}}</county>
				<city>{{.Home.City}}</city>
				<censusTract>{{.Home.ISTAT}}</censusTract>
				<postalCode>{{.Home.CAP}}</postalCode>
				<streetAddressLine>Via della Prova 1</streetAddressLine>
			</addr>
			<telecom use="MC" value="tel:+393330000000"/>
			<patient>
				<name>
					<family>{{x .P.Family}}</family>
					<given>{{x .P.Given}}</given>
				</name>
				<administrativeGenderCode code="{{x .P.Gender}}" codeSystem="2.16.840.1.113883.5.1" codeSystemName="HL7 AdministrativeGender" displayName="{{.GenderName}}"/>
				<birthTime value="{{.Birth}}"/>
				<birthplace>
					<place>
						<addr>
							<country>100</country>
							<county>{{.Native.Province}}</county>
							<city>{{.Native.City}}</city>
							<censusTract>{{.Native.ISTAT}}</censusTract>
						</addr>
					</place>
				</birthplace>
			</patient>
		</patientRole>
	</recordTarget>
	<author>
		<time value="{{.TS}}"/>
		<assignedAuthor>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Author.CF}}" assigningAuthorityName="MEF"/>
			<telecom use="WP" value="tel:+390200000030"/>
			<assignedPerson>
				<name>
					<prefix>Dott.</prefix>
					<given>{{x .Author.Given}}</given>
					<family>{{x .Author.Family}}</family>
				</name>
			</assignedPerson>
			<representedOrganization>
				<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>{{x .Lab}}</name>
				<telecom use="WP" value="tel:+390200000031"/>
			</representedOrganization>
		</assignedAuthor>
	</author>
	<dataEnterer>
		<time value="{{.At 0 0 -1}}"/>
		<assignedEntity>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Technician.CF}}" assigningAuthorityName="MEF"/>
			<assignedPerson>
				<name>
					<given>{{x .Technician.Given}}</given>
					<family>{{x .Technician.Family}}</family>
				</name>
			</assignedPerson>
		</assignedEntity>
	</dataEnterer>
	<custodian>
		<assignedCustodian>
			<representedCustodianOrganization>
				<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Struttura sintetica {{x .Org}}</name>
				<telecom use="WP" value="tel:+390200000020"/>
				<addr use="WP">
					<country>100</country>
					<city>{{.Home.City}}</city>
					<postalCode>{{.Home.CAP}}</postalCode>
					<streetAddressLine>Viale del Collaudo 10</streetAddressLine>
				</addr>
			</representedCustodianOrganization>
		</assignedCustodian>
	</custodian>
	<informationRecipient>
		<intendedRecipient>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .GP.CF}}" assigningAuthorityName="MEF"/>
			<telecom use="WP" value="mailto:medico.curante@example.org"/>
			<informationRecipient>
				<name>
					<given>{{x .GP.Given}}</given>
					<family>{{x .GP.Family}}</family>
				</name>
			</informationRecipient>
		</intendedRecipient>
	</informationRecipient>
	<legalAuthenticator>
		<time value="{{.TS}}"/>
		<signatureCode code="S"/>
		<assignedEntity>
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Biologist.CF}}" assigningAuthorityName="MEF"/>
			<assignedPerson>
				<name>
					<prefix>Dott.</prefix>
					<given>{{x .Biologist.Given}}</given>
					<family>{{x .Biologist.Family}}</family>
				</name>
			</assignedPerson>
		</assignedEntity>
	</legalAuthenticator>
	<participant typeCode="REF">
		<time value="{{.At 0 0 -10}}"/>
		<associatedEntity classCode="PROV">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Prescriber.CF}}" assigningAuthorityName="MEF"/>
			<associatedPerson>
				<name>
					<given>{{x .Prescriber.Given}}</given>
					<family>{{x .Prescriber.Family}}</family>
				</name>
			</associatedPerson>
		</associatedEntity>
	</participant>
	<inFulfillmentOf>
		<order classCode="ACT" moodCode="RQO">
			<id root="2.16.840.1.113883.2.9.4.3.9" extension="{{x .NRE}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<priorityCode code="R" codeSystem="2.16.840.1.113883.5.7" codeSystemName="HL7 ActPriority" displayName="Ordinaria"/>
		</order>
	</inFulfillmentOf>
	<documentationOf>
		<serviceEvent classCode="ACT" moodCode="EVN">
			<statusCode code="completed"/>
			<effectiveTime>
				<low value="{{.At 0 0 -4}}"/>
				<high value="{{.TS}}"/>
			</effectiveTime>
			<performer typeCode="PRF">
				<assignedEntity>
					<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Biologist.CF}}" assigningAuthorityName="MEF"/>
					<assignedPerson>
						<name>
							<given>{{x .Biologist.Given}}</given>
							<family>{{x .Biologist.Family}}</family>
						</name>
					</assignedPerson>
					<representedOrganization>
						<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .Org}}" assigningAuthorityName="Ministero della Salute"/>
						<name>{{x .Lab}}</name>
					</representedOrganization>
				</assignedEntity>
			</performer>
		</serviceEvent>
	</documentationOf>
{{- if gt .Version 1}}
	<relatedDocument typeCode="RPLC">
		<parentDocument>
			<id root="{{x .ParentRoot}}" extension="{{x .ParentExt}}"/>
		</parentDocument>
	</relatedDocument>
{{- end}}
	<componentOf>
		<encompassingEncounter>
			<id root="{{.UUID "accesso"}}"/>
			<effectiveTime>
				<low value="{{.At 0 0 -4}}"/>
				<high value="{{.TS}}"/>
			</effectiveTime>
			<responsibleParty>
				<assignedEntity>
					<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .Director.CF}}" assigningAuthorityName="MEF"/>
					<assignedPerson>
						<name>
							<given>{{x .Director.Given}}</given>
							<family>{{x .Director.Family}}</family>
						</name>
					</assignedPerson>
				</assignedEntity>
			</responsibleParty>
			<location>
				<healthCareFacility>
					<id root="2.16.840.1.113883.2.9.4.1.6" extension="{{x .Org}}" assigningAuthorityName="Ministero della Salute"/>
					<serviceProviderOrganization>
						<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .Org}}" assigningAuthorityName="Ministero della Salute"/>
						<name>{{x .Lab}}</name>
						<telecom use="WP" value="tel:+390200000031"/>
					</serviceProviderOrganization>
				</healthCareFacility>
			</location>
		</encompassingEncounter>
	</componentOf>
	<component>
		<structuredBody>
			<component>
				<section ID="EMATOLOGIA">
					<code code="18723-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Ematologia"/>
					<title>Ematologia</title>
					<text>
						<paragraph>Prelievo venoso del {{.Show 0 0 -2}}.</paragraph>
					</text>
					<component>
						<section ID="EMOCROMO">
							<code code="58410-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Emocromo completo"/>
							<title>Emocromo</title>
							<text>{{template "table" .Blood}}
							</text>
							<entry typeCode="DRIV">
								<act classCode="ACT" moodCode="EVN">
									<code code="58410-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Emocromo completo"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.At 0 0 -2}}"/>{{template "specimen" (.Specimen "emo-provetta" "BLD" "Sangue intero")}}{{template "collection" (.Collection "emo-provetta" (.At 0 0 -2))}}
									<entryRelationship typeCode="COMP">
										<organizer classCode="BATTERY" moodCode="EVN">
											<code code="58410-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Emocromo completo"/>
											<statusCode code="completed"/>
											<effectiveTime value="{{.At 0 0 -1}}"/>
{{- range .Blood}}
											<component>{{template "result" ($.Result .)}}
											</component>
{{- end}}
										</organizer>
									</entryRelationship>
								</act>
							</entry>
						</section>
					</component>
				</section>
			</component>
			<component>
				<section ID="CHIMICA">
					<code code="18719-5" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Chimica"/>
					<title>Chimica clinica</title>
					<component>
						<section ID="LIPIDI">
							<code code="24331-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Profilo lipidico"/>
							<title>Profilo lipidico</title>
							<text>{{template "table" .Lipids}}
							</text>
							<entry typeCode="DRIV">
								<act classCode="ACT" moodCode="EVN">
									<code code="24331-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Profilo lipidico"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.At 0 0 -2}}"/>{{template "specimen" (.Specimen "lip-provetta" "SER" "Siero")}}{{template "collection" (.Collection "lip-provetta" (.At 0 0 -2))}}
									<entryRelationship typeCode="COMP">
										<organizer classCode="BATTERY" moodCode="EVN">
											<code code="24331-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Profilo lipidico"/>
											<statusCode code="completed"/>
											<effectiveTime value="{{.At 0 0 -1}}"/>
{{- range .Lipids}}
											<component>{{template "result" ($.Result .)}}
											</component>
{{- end}}
										</organizer>
									</entryRelationship>
								</act>
							</entry>
						</section>
					</component>
					<component>
						<section ID="ELETTROLITI">
							<code code="24326-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Elettroliti"/>
							<title>Elettroliti</title>
							<text>{{template "table" .Electrolytes}}
								<paragraph ID="ele-nota">Potassio non eseguito: campione emolizzato. Si consiglia di ripetere il prelievo.</paragraph>
							</text>
							<entry typeCode="DRIV">
								<act classCode="ACT" moodCode="EVN">
									<code code="24326-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Elettroliti"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.At 0 0 -2}}"/>{{template "specimen" (.Specimen "lip-provetta" "SER" "Siero")}}
									<entryRelationship typeCode="SUBJ" inversionInd="true">
										<act classCode="ACT" moodCode="EVN">
											<code code="48767-8" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Annotazioni e commenti"/>
											<text><reference value="#ele-nota"/></text>
											<statusCode code="completed"/>
										</act>
									</entryRelationship>
									<entryRelationship typeCode="COMP">
										<organizer classCode="BATTERY" moodCode="EVN">
											<code code="24326-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Elettroliti"/>
											<statusCode code="completed"/>
											<effectiveTime value="{{.At 0 0 -1}}"/>
{{- range .Electrolytes}}
											<component>{{template "result" ($.Result .)}}
											</component>
{{- end}}
										</organizer>
									</entryRelationship>
								</act>
							</entry>
						</section>
					</component>
					<component>
						<section ID="CLEARANCE">
							<code code="2164-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Clearance della creatinina"/>
							<title>Clearance della creatinina</title>
							<text>{{template "table" .Clearance}}
							</text>
							<entry typeCode="DRIV">
								<act classCode="ACT" moodCode="EVN">
									<code code="2164-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Clearance della creatinina"/>
									<statusCode code="completed"/>
									<effectiveTime>
										<low value="{{.At 0 0 -3}}"/>
										<high value="{{.At 0 0 -2}}"/>
									</effectiveTime>{{template "specimen" (.Specimen "cle-siero" "SER" "Siero")}}{{template "specimen" (.Specimen "cle-urine" "UR" "Urine delle 24 ore")}}{{template "collection" (.Collection "cle-siero" (.At 0 0 -2))}}{{template "collection" (.Collection "cle-urine" (.At 0 0 -2))}}
{{- range .Clearance}}
									<entryRelationship typeCode="COMP">{{template "result" ($.Result .)}}
									</entryRelationship>
{{- end}}
								</act>
							</entry>
						</section>
					</component>
				</section>
			</component>
			<component>
				<section ID="URINE">
					<code code="18729-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Esami delle urine"/>
					<title>Esami delle urine</title>
					<component>
						<section ID="URINE_CHIMICO_FISICO">
							<code code="24357-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Esame chimico-fisico delle urine"/>
							<title>Esame chimico-fisico delle urine</title>
							<text>{{template "table" .Urine}}
							</text>
							<entry typeCode="DRIV">
								<act classCode="ACT" moodCode="EVN">
									<code code="24357-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Esame chimico-fisico delle urine"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.At 0 0 -2}}"/>{{template "specimen" (.Specimen "uri-campione" "UR" "Urine")}}
									<entryRelationship typeCode="COMP">
										<organizer classCode="BATTERY" moodCode="EVN">
											<code code="24357-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Esame chimico-fisico delle urine"/>
											<statusCode code="completed"/>
											<effectiveTime value="{{.At 0 0 -2}}"/>
{{- range .Urine}}
											<component>{{template "result" ($.Result .)}}
											</component>
{{- end}}
										</organizer>
									</entryRelationship>
								</act>
							</entry>
						</section>
					</component>
				</section>
			</component>
			<component>
				<section ID="MICROBIOLOGIA">
					<code code="18725-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Microbiologia"/>
					<title>Microbiologia</title>
					<component>
						<section ID="URINOCOLTURA">
							<code code="630-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Urinocoltura"/>
							<title>Urinocoltura</title>
							<text>
								<paragraph>Campione: urine da mitto intermedio, raccolto il {{.Show 0 0 -4}}.</paragraph>
								<paragraph ID="mic-esito">Esito: <content ID="mic-germe">Escherichia coli</content>, carica batterica {{.Colonies.Value}} {{.Colonies.Shown}}.</paragraph>
								<renderMultiMedia referencedObject="mic-piastra"/>
								<table>
									<caption>Antibiogramma (MIC)</caption>
									<thead>
										<tr><th>Antibiotico</th><th>MIC</th><th>Interpretazione</th></tr>
									</thead>
									<tbody>
{{- range .Susceptibility}}
										<tr ID="{{.Ref}}"><td>{{.Name}}</td><td>{{.Value}} {{.Shown}}</td><td>{{.InterpName}}</td></tr>
{{- end}}
									</tbody>
								</table>
							</text>
							<entry typeCode="DRIV">
								<act classCode="ACT" moodCode="EVN">
									<code code="630-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Urinocoltura"/>
									<statusCode code="completed"/>
									<effectiveTime value="{{.At 0 0 -4}}"/>{{template "specimen" (.Specimen "mic-campione" "UR" "Urine da mitto intermedio")}}{{template "collection" (.Collection "mic-campione" (.At 0 0 -4))}}
									<entryRelationship typeCode="COMP">
										<observationMedia classCode="OBS" moodCode="EVN" ID="mic-piastra">
											<value mediaType="image/png" representation="B64">{{.Plate}}</value>
										</observationMedia>
									</entryRelationship>
									<entryRelationship typeCode="COMP">
										<observation classCode="OBS" moodCode="EVN">
											<code code="630-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Batteri identificati nelle urine (coltura)"/>
											<text><reference value="#mic-esito"/></text>
											<statusCode code="completed"/>
											<effectiveTime value="{{.At 0 0 -2}}"/>
											<value xsi:type="CD" code="112283007" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Escherichia coli">
												<originalText><reference value="#mic-germe"/></originalText>
											</value>
											<interpretationCode code="A" codeSystem="2.16.840.1.113883.5.83" codeSystemName="ObservationInterpretation" displayName="Anormale"/>
										</observation>
									</entryRelationship>
									<entryRelationship typeCode="COMP">
										<organizer classCode="CLUSTER" moodCode="EVN">
											<code code="630-4" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Urinocoltura"/>
											<statusCode code="completed"/>
											<effectiveTime value="{{.At 0 0 -1}}"/>
											<specimen typeCode="SPC">
												<specimenRole classCode="SPEC">
													<id root="{{.UUID "mic-isolato"}}"/>
													<specimenPlayingEntity classCode="MIC">
														<code code="112283007" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Escherichia coli"/>
													</specimenPlayingEntity>
												</specimenRole>
											</specimen>
											<component>{{template "result" (.Result .Colonies)}}
											</component>
											<component>
												<organizer classCode="BATTERY" moodCode="EVN">
													<code code="29576-6" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Antibiogramma"/>
													<statusCode code="completed"/>
													<effectiveTime value="{{.At 0 0 -1}}"/>
{{- range .Susceptibility}}
													<component>{{template "result" ($.Result .)}}
													</component>
{{- end}}
												</organizer>
											</component>
										</organizer>
									</entryRelationship>
								</act>
							</entry>
						</section>
					</component>
				</section>
			</component>
		</structuredBody>
	</component>
</ClinicalDocument>
{{define "table"}}
								<table>
									<thead>
										<tr><th>Esame</th><th>Risultato</th><th>Unità di misura</th><th>Valori di riferimento</th><th>Interpretazione</th><th>Metodo</th></tr>
									</thead>
									<tbody>
{{- range .}}
										<tr ID="{{.Ref}}"><td>{{.Name}}</td>
{{- if .Aborted}}<td>Non eseguito</td><td></td><td></td><td></td><td></td>
{{- else}}<td>{{if .Text}}{{.Text}}{{else}}{{.Value}}{{end}}</td><td>{{.Shown}}</td><td>{{if .RangeText}}{{.RangeText}}{{else}}{{.Low}} - {{.High}}{{end}}</td><td>{{.InterpName}}</td><td>{{.MethodName}}</td>
{{- end}}</tr>
{{- end}}
									</tbody>
								</table>
{{- end}}
{{define "specimen"}}
									<specimen typeCode="SPC">
										<specimenRole classCode="SPEC">
											<id root="{{.UUID .Ref}}"/>
											<specimenPlayingEntity>
												<code code="{{.Code}}" codeSystem="2.16.840.1.113883.5.129" codeSystemName="SpecimenType" displayName="{{.Name}}"/>
											</specimenPlayingEntity>
										</specimenRole>
									</specimen>
{{- end}}
{{define "collection"}}
									<entryRelationship typeCode="COMP">
										<act classCode="ACT" moodCode="EVN">
											<code code="33882-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Data e ora della raccolta del campione"/>
											<effectiveTime value="{{.When}}"/>
											<specimen typeCode="SPC">
												<specimenRole classCode="SPEC">
													<id root="{{.UUID .Ref}}"/>
												</specimenRole>
											</specimen>
										</act>
									</entryRelationship>
									<entryRelationship typeCode="COMP">
										<procedure classCode="PROC" moodCode="EVN">
{{- if eq .Kind "blood"}}
											<code code="82078001" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Prelievo di sangue per esami di laboratorio"/>
											<targetSiteCode code="LACF" codeSystem="2.16.840.1.113883.5.1052" codeSystemName="ActSite" displayName="Fossa antecubitale sinistra"/>
{{- else}}
											<code code="57617002" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Raccolta delle urine"/>
											<targetSiteCode code="13648007" codeSystem="2.16.840.1.113883.6.96" codeSystemName="SNOMED CT" displayName="Uretra"/>
{{- end}}
											<specimen typeCode="SPC">
												<specimenRole classCode="SPEC">
													<id root="{{.UUID .Ref}}"/>
												</specimenRole>
											</specimen>
										</procedure>
									</entryRelationship>
{{- end}}
{{define "result"}}
												<observation classCode="OBS" moodCode="EVN">
													<code code="{{.R.Code}}" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="{{.R.Name}}"/>
													<text><reference value="#{{.R.Ref}}"/></text>
{{- if .R.Aborted}}
													<statusCode code="aborted"/>
													<effectiveTime value="{{.At 0 0 -1}}"/>
{{- else}}
													<statusCode code="completed"/>
													<effectiveTime value="{{.At 0 0 -1}}"/>
{{- if .R.Text}}
													<value xsi:type="ST">{{.R.Text}}</value>
{{- else}}
													<value xsi:type="PQ" value="{{.R.Value}}" unit="{{.R.Unit}}"/>
{{- end}}
													<interpretationCode code="{{.R.Interp}}" codeSystem="2.16.840.1.113883.5.83" codeSystemName="ObservationInterpretation" displayName="{{.R.InterpName}}"/>
{{- if .R.Method}}
													<methodCode code="{{.R.Method}}" codeSystem="2.16.840.1.113883.5.84" codeSystemName="ObservationMethod" displayName="{{.R.MethodName}}"/>
{{- end}}
{{- end}}
{{- if .R.Specimen}}
													<specimen typeCode="SPC">
														<specimenRole classCode="SPEC">
															<id root="{{.UUID .R.Specimen}}"/>
															<specimenPlayingEntity>
																<code code="{{.R.SpecimenCode}}" codeSystem="2.16.840.1.113883.5.129" codeSystemName="SpecimenType"/>
															</specimenPlayingEntity>
														</specimenRole>
													</specimen>
{{- end}}
{{- if and (not .R.Aborted) (or .R.RangeText .R.High)}}
													<referenceRange>
														<observationRange>
{{- if .R.RangeText}}
															<text>{{.R.RangeText}}</text>
{{- else}}
															<value xsi:type="IVL_PQ">
																<low value="{{.R.Low}}" unit="{{.R.Unit}}"/>
																<high value="{{.R.High}}" unit="{{.R.Unit}}"/>
															</value>
{{- end}}
															<interpretationCode code="N" codeSystem="2.16.840.1.113883.5.83" codeSystemName="ObservationInterpretation" displayName="Normale"/>
														</observationRange>
													</referenceRange>
{{- end}}
												</observation>
{{- end}}
`))

// The data of the template's repeated parts: each carries the header, for
// its UUIDs and dates.

type labSpecimen struct {
	nationalHeader
	Ref, Code, Name string
}

func (l labData) Specimen(ref, code, name string) labSpecimen {
	return labSpecimen{l.nationalHeader, ref, code, name}
}

type labCollection struct {
	nationalHeader
	Ref, When, Kind string
}

// Collection is when and where a specimen was taken: blood from a vein,
// or urine.
func (l labData) Collection(ref, at string) labCollection {
	kind := "blood"
	if ref == "cle-urine" || ref == "mic-campione" {
		kind = "urine"
	}
	return labCollection{l.nationalHeader, ref, at, kind}
}

type labObservation struct {
	nationalHeader
	R labResult
}

func (l labData) Result(r labResult) labObservation { return labObservation{l.nationalHeader, r} }
