package synth

import (
	"encoding/base64"
	"strings"
	"text/template"
	"time"
)

// Cartella Clinica (CC, LOINC 100971-1): the clinical record of an
// elective orthopaedic stay — a total right hip replacement for
// coxarthrosis — with every section the CC schematron knows: clinical
// and nursing assessment, allergies, therapy, parameters, the individual
// rehabilitation and care plans, consents, requests, the clinical diary,
// the implanted device, the surgical wound, assessment scales, restraint
// measures, care planning, anaesthesia, the operation, the transfer, the
// discharge and the physiotherapist's discharge report (and, for a woman,
// the obstetric history section); two sections refer to other documents
// of the stay (the radiology report and a lab report). As the national
// rules want, every other entry is an attachment (observationMedia, here
// a short text), and some sections name their own author. The header
// carries the patient's guardian (amministratore di sostegno), the legal
// authenticator's address and the encounter's id, facility and provider.
// The document id is d.ID().

func init() { registerNational("CC", buildCC) }

// ccSection is one section of the record.
type ccSection struct {
	Code, Title   string
	Template      string   // the section's templateId root, if any
	Paragraphs    []string // the narrative
	Attachment    string   // the text of an attached document (observationMedia), if any
	AttachmentB64 string
	ID            string // the section's ID, for the attachment's reference
	Author        bool   // the section names its author (the ward's physician)
}

// ccReference is a section referring to another document of the stay.
type ccReference struct {
	Code, Title, DocTitle string
	Ext                   string // the referred document's id extension
	Text                  string
}

type ccData struct {
	D                     Document
	SetExt                string
	ParentRoot, ParentExt string
	TS, Birth             string
	Admission, Discharge  string
	Encounter             string
	Sections              []ccSection
	References            []ccReference
}

func buildCC(d Document) []byte {
	rome := time.FixedZone("", 3600)
	t := d.Time.In(rome)
	const ts = "20060102150405-0700"
	admission := t.AddDate(0, 0, -9)
	data := ccData{
		D: d, SetExt: d.LocalID,
		TS: t.Format(ts), Birth: d.Patient.BirthDate.Format("20060102"),
		Admission: admission.Format(ts), Discharge: t.Add(-2 * time.Hour).Format(ts),
		Encounter: "RIC" + radDigits(d, "ricovero", 8),
	}
	if d.Replaces != "" {
		root, ext, _ := strings.Cut(d.Replaces, "^")
		data.ParentRoot, data.ParentExt, data.SetExt = root, ext, ext
	}
	day := func(n int) string { return admission.AddDate(0, 0, n).Format("02/01/2006") }
	data.Sections = []ccSection{
		{Code: "47039-3", Template: "2.16.840.1.113883.3.1937.777.63.10.851", Title: "Inquadramento clinico", Paragraphs: []string{
			"Ricovero programmato in Ortopedia per coxartrosi destra sintomatica, refrattaria alla terapia conservativa.",
			"Anamnesi: ipertensione arteriosa in trattamento; non diabete. Obiettività: zoppia di fuga, limitazione dolorosa dell'intrarotazione dell'anca destra.",
		}},
		{Code: "67851-6", Title: "Accertamento assistenziale", Paragraphs: []string{
			"Vigilanza e orientamento conservati, buona collaborazione. Autonomia nelle attività di base prima del ricovero; deambulazione con un bastone.",
		}},
		{Code: "48765-2", Template: "2.16.840.1.113883.3.1937.777.63.10.852", Title: "Allergie e intolleranze", Paragraphs: []string{
			"Allergia all'amoxicillina (orticaria). Nessuna intolleranza alimentare nota.",
		}},
		{Code: "84172-6", Template: "2.16.840.1.113883.3.1937.777.63.10.853", Title: "Processo terapeutico", Paragraphs: []string{
			"Profilassi antibiotica con cefazolina 2 g e.v. all'induzione; enoxaparina 4000 UI s.c. al giorno per 35 giorni; paracetamolo 1 g e.v. ogni 8 ore al bisogno.",
		}, Attachment: "Foglio unico di terapia (sintetico): cefazolina, enoxaparina, paracetamolo, amlodipina."},
		{Code: "8716-3", Template: "2.16.840.1.113883.3.1937.777.63.10.854", Title: "Parametri", Paragraphs: []string{
			"All'ingresso: pressione arteriosa 140/85 mmHg, frequenza cardiaca 76 bpm, temperatura 36,5 °C, SpO2 97% in aria ambiente.",
		}},
		{Code: "83734-4", Template: "2.16.840.1.113883.3.1937.777.63.10.855", Title: "Piano riabilitativo individuale", Paragraphs: []string{
			"Obiettivo: deambulazione autonoma con due bastoni canadesi entro la dimissione. Carico completo concesso dalla prima giornata.",
		}},
		{Code: "101541-1", Template: "2.16.840.1.113883.3.1937.777.63.10.856", Title: "Piano assistenziale individuale", Paragraphs: []string{
			"Prevenzione delle lesioni da pressione, gestione del dolore, educazione alla mobilizzazione e alla cura della ferita.",
		}},
		{Code: "59284-0", Template: "2.16.840.1.113883.3.1937.777.63.10.865", Title: "Consensi", Paragraphs: []string{
			"Consenso informato all'intervento chirurgico e all'anestesia raccolto il " + day(0) + ", firmato dalla persona assistita e dall'amministratore di sostegno.",
		}, Attachment: "Modulo di consenso informato (sintetico): intervento di artroprotesi d'anca e anestesia spinale."},
		{Code: "11487-6", Template: "2.16.840.1.113883.3.1937.777.63.10.857", Title: "Richieste", Paragraphs: []string{
			"Radiografia del bacino e dell'anca destra post-operatoria; consulenza fisiatrica; emocromo di controllo in seconda giornata.",
		}},
		{Code: "11506-3", Template: "2.16.840.1.113883.3.1937.777.63.10.849", Title: "Diario clinico assistenziale", Paragraphs: []string{
			day(1) + ": intervento regolare, rientro in reparto in buon compenso.",
			day(2) + ": mobilizzazione in poltrona, dolore controllato (NRS 3).",
			day(4) + ": deambulazione assistita con deambulatore; ferita in ordine.",
		}, Author: true},
		{Code: "108277-5", Template: "2.16.840.1.113883.3.1937.777.63.10.847", Title: "Documentazione di dispositivi impiantati o utilizzati", Paragraphs: []string{
			"Artroprotesi totale d'anca non cementata: stelo, cotile e testina in ceramica (dispositivi sintetici, lotti di prova).",
		}, Attachment: "Etichette dei dispositivi impiantati (sintetiche): STELO-PROVA-01, COTILE-PROVA-02, TESTINA-PROVA-03."},
		{Code: "46215-0", Template: "2.16.840.1.113883.3.1937.777.63.10.846", Title: "Lesioni e ferite", Paragraphs: []string{
			"Ferita chirurgica laterale all'anca destra, 14 cm, asciutta, margini accostati; rimozione dei punti prevista in quattordicesima giornata.",
		}},
		{Code: "51848-0", Template: "2.16.840.1.113883.3.1937.777.63.10.845", Title: "Scale e altri strumenti di valutazione e monitoraggio", Paragraphs: []string{
			"Indice di Barthel: 55 all'ingresso, 80 alla dimissione. Scala di Braden: 17. Dolore (NRS): da 7 a 2.",
		}},
		{Code: "70007-0", Template: "2.16.840.1.113883.3.1937.777.63.10.843", Title: "Provvedimento contenitivo e/o di altra natura", Paragraphs: []string{
			"Nessun provvedimento contenitivo adottato durante il ricovero.",
		}},
		{Code: "80754-5", Template: "2.16.840.1.113883.3.1937.777.63.10.842", Title: "Pianificazione assistenziale", Paragraphs: []string{
			"Diagnosi infermieristiche: mobilità compromessa, rischio di infezione del sito chirurgico. Interventi e verifiche giornaliere registrati.",
		}},
		{Code: "34750-0", Template: "2.16.840.1.113883.3.1937.777.63.10.841", Title: "Documentazione anestesiologica", Paragraphs: []string{
			"Valutazione preoperatoria ASA 2. Anestesia spinale con bupivacaina iperbarica; decorso intraoperatorio regolare.",
		}, Attachment: "Cartella anestesiologica (sintetica): ASA 2, anestesia spinale, nessuna complicanza."},
		{Code: "34848-2", Template: "2.16.840.1.113883.3.1937.777.63.10.864", Title: "Documentazione relativa ad interventi chirurgici e procedure interventistiche", Paragraphs: []string{
			"Il " + day(1) + ": sostituzione totale dell'anca destra per via laterale diretta. Durata 85 minuti; perdite ematiche stimate 350 ml.",
		}, Author: true},
		{Code: "104920-4", Template: "2.16.840.1.113883.3.1937.777.63.10.862", Title: "Trasferimento", Paragraphs: []string{
			"Nessun trasferimento tra unità operative durante il ricovero.",
		}},
		{Code: "8650-4", Template: "2.16.840.1.113883.3.1937.777.63.10.861", Title: "Dimissione", Paragraphs: []string{
			"Dimissione al domicilio in buone condizioni generali, con indicazione a proseguire la fisiochinesiterapia. Controllo ambulatoriale a 40 giorni.",
		}, Author: true},
		{Code: "68674-1", Template: "2.16.840.1.113883.3.1937.777.63.10.860", Title: "Documento di dimissione di altre professioni sanitarie", Paragraphs: []string{
			"Relazione del fisioterapista: deambulazione autonoma con due bastoni canadesi per 100 metri; scale con supervisione.",
		}, Attachment: "Relazione fisioterapica di dimissione (sintetica)."},
	}
	if d.Patient.Gender == "F" {
		data.Sections = append(data.Sections, ccSection{Code: "15508-5", Template: "2.16.840.1.113883.3.1937.777.63.10.863", Title: "Documentazione relativa all'evento parto", Paragraphs: []string{
			"Anamnesi ostetrica: due parti spontanei a termine; nessun evento parto nel corso del ricovero.",
		}})
	}
	for i := range data.Sections {
		s := &data.Sections[i]
		s.ID = "sez" + strings.ReplaceAll(s.Code, "-", "_")
		if s.Attachment != "" {
			s.AttachmentB64 = base64.StdEncoding.EncodeToString([]byte(s.Attachment + " Documento sintetico: nessun dato reale.\n"))
		}
	}
	data.References = []ccReference{
		{Code: "68604-8", Title: "Riferimento al referto radiologico", DocTitle: "Referto radiologico",
			Ext: "rad-" + radDigits(d, "rad", 8), Text: "Radiografia post-operatoria dell'anca destra: protesi in sede, ben posizionata."},
		{Code: "11502-2", Title: "Riferimento al referto di laboratorio", DocTitle: "Referto di laboratorio",
			Ext: "lab-" + radDigits(d, "lab", 8), Text: "Emocromo di controllo in seconda giornata: emoglobina 11,2 g/dL."},
	}
	return prfRender(ccTemplate, data)
}

var ccTemplate = template.Must(template.New("CC").Funcs(template.FuncMap{"x": xmlText}).Parse(`<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
	<realmCode code="IT"/>
	<typeId root="2.16.840.1.113883.1.3" extension="POCD_MT000040UV02"/>
	<templateId root="2.16.840.1.113883.2.9.10.1.18.1" extension="1.0"/>
	<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .D.LocalID}}" assigningAuthorityName="Documento sintetico"/>
	<code code="100971-1" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Cartella clinica"/>
	<title>Cartella Clinica</title>
	<effectiveTime value="{{.TS}}"/>
	<confidentialityCode code="{{x .D.Confidentiality}}" codeSystem="2.16.840.1.113883.5.25" codeSystemName="HL7 Confidentiality"/>
	<languageCode code="it-IT"/>
	<setId root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.4" extension="{{x .SetExt}}" assigningAuthorityName="Documento sintetico"/>
	<versionNumber value="{{.D.Version}}"/>
	<recordTarget typeCode="RCT" contextControlCode="OP">
		<patientRole classCode="PAT">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .D.Patient.CF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<addr use="H">
				<country>100</country>
				<county>RM</county>
				<city>Roma</city>
				<censusTract>058091</censusTract>
				<postalCode>00100</postalCode>
				<streetAddressLine>Via della Prova 1</streetAddressLine>
			</addr>
			<telecom use="HP" value="tel:+390600000000"/>
			<patient classCode="PSN" determinerCode="INSTANCE">
				<name>
					<family>{{x .D.Patient.Family}}</family>
					<given>{{x .D.Patient.Given}}</given>
				</name>
				<administrativeGenderCode code="{{x .D.Patient.Gender}}" codeSystem="2.16.840.1.113883.5.1" codeSystemName="HL7 AdministrativeGender"/>
				<birthTime value="{{.Birth}}"/>
				<guardian classCode="GUARD">
					<telecom use="MC" value="tel:+393330000000"/>
					<guardianPerson classCode="PSN" determinerCode="INSTANCE">
						<name>
							<family>Tutore</family>
							<given>Sintetico</given>
						</name>
					</guardianPerson>
				</guardian>
				<birthplace>
					<place>
						<addr>
							<country>100</country>
							<city>Roma</city>
							<censusTract>058091</censusTract>
						</addr>
					</place>
				</birthplace>
			</patient>
		</patientRole>
	</recordTarget>
	<author typeCode="AUT" contextControlCode="OP">
		<time value="{{.TS}}"/>
		<assignedAuthor classCode="ASSIGNED">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .D.AuthorCF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<telecom use="WP" value="tel:+390600000006"/>
			<assignedPerson classCode="PSN" determinerCode="INSTANCE">
				<name>
					<family>Ortopedico</family>
					<given>Sintetico</given>
				</name>
			</assignedPerson>
			<representedOrganization classCode="ORG" determinerCode="INSTANCE">
				<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Struttura sintetica {{x .D.Org}}</name>
			</representedOrganization>
		</assignedAuthor>
	</author>
	<custodian typeCode="CST">
		<assignedCustodian classCode="ASSIGNED">
			<representedCustodianOrganization classCode="ORG" determinerCode="INSTANCE">
				<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
				<name>Struttura sintetica {{x .D.Org}}</name>
				<telecom use="WP" value="tel:+390600000002"/>
				<addr use="WP">
					<country>100</country>
					<city>Roma</city>
					<streetAddressLine>Via della Struttura Sintetica 3</streetAddressLine>
				</addr>
			</representedCustodianOrganization>
		</assignedCustodian>
	</custodian>
	<legalAuthenticator typeCode="LA" contextControlCode="OP">
		<time value="{{.TS}}"/>
		<signatureCode code="S"/>
		<assignedEntity classCode="ASSIGNED">
			<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x .D.AuthorCF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
			<addr use="WP">
				<country>100</country>
				<city>Roma</city>
				<streetAddressLine>Via della Struttura Sintetica 3</streetAddressLine>
			</addr>
			<assignedPerson classCode="PSN" determinerCode="INSTANCE">
				<name>
					<family>Primario</family>
					<given>Sintetico</given>
				</name>
			</assignedPerson>
		</assignedEntity>
	</legalAuthenticator>
{{- if .D.Replaces}}
	<relatedDocument typeCode="RPLC">
		<parentDocument classCode="DOCCLIN" moodCode="EVN">
			<id root="{{x .ParentRoot}}" extension="{{x .ParentExt}}"/>
		</parentDocument>
	</relatedDocument>
{{- end}}
	<componentOf>
		<encompassingEncounter classCode="ENC" moodCode="EVN">
			<id root="2.16.840.1.113883.2.9.2.{{x .D.Region}}.4.6" extension="{{x .Encounter}}" assigningAuthorityName="Struttura sintetica {{x .D.Org}}"/>
			<code code="IMP" codeSystem="2.16.840.1.113883.5.4" codeSystemName="ActCode" displayName="Ricovero ordinario"/>
			<effectiveTime>
				<low value="{{.Admission}}"/>
				<high value="{{.Discharge}}"/>
			</effectiveTime>
			<location typeCode="LOC">
				<healthCareFacility classCode="SDLOC">
					<id root="2.16.840.1.113883.2.9.4.1.6" extension="{{x .D.Org}}01" assigningAuthorityName="Ministero della Salute"/>
					<location classCode="PLC" determinerCode="INSTANCE">
						<name>Ortopedia e traumatologia, Struttura sintetica {{x .D.Org}}</name>
					</location>
					<serviceProviderOrganization classCode="ORG" determinerCode="INSTANCE">
						<id root="2.16.840.1.113883.2.9.4.1.2" extension="{{x .D.Org}}" assigningAuthorityName="Ministero della Salute"/>
						<name>Struttura sintetica {{x .D.Org}}</name>
					</serviceProviderOrganization>
				</healthCareFacility>
			</location>
		</encompassingEncounter>
	</componentOf>
	<component>
		<structuredBody classCode="DOCBODY" moodCode="EVN">
{{- range .Sections}}
			<component>
				<section classCode="DOCSECT" moodCode="EVN" ID="{{.ID}}">
{{- if .Template}}
					<templateId root="{{.Template}}"/>
{{- end}}
					<code code="{{.Code}}" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="{{x .Title}}"/>
					<title>{{x .Title}}</title>
					<text>
{{- range .Paragraphs}}
						<paragraph>{{x .}}</paragraph>
{{- end}}
{{- if .Attachment}}
						<paragraph>Allegato: <content ID="{{.ID}}_all">{{x .Attachment}}</content></paragraph>
{{- end}}
					</text>
{{- if .Author}}
					<author typeCode="AUT" contextControlCode="OP">
						<time value="{{$.TS}}"/>
						<assignedAuthor classCode="ASSIGNED">
							<id root="2.16.840.1.113883.2.9.4.3.2" extension="{{x $.D.AuthorCF}}" assigningAuthorityName="Ministero dell'Economia e delle Finanze"/>
							<assignedPerson classCode="PSN" determinerCode="INSTANCE">
								<name>
									<family>Ortopedico</family>
									<given>Sintetico</given>
								</name>
							</assignedPerson>
						</assignedAuthor>
					</author>
{{- end}}
{{- if .Attachment}}
					<entry>
						<observationMedia classCode="OBS" moodCode="EVN">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.866"/>
							<value xsi:type="ED" mediaType="text/plain" representation="B64">{{.AttachmentB64}}</value>
						</observationMedia>
					</entry>
{{- end}}
				</section>
			</component>
{{- end}}
{{- range .References}}
			<component>
				<section classCode="DOCSECT" moodCode="EVN">
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.848"/>
					<code code="{{.Code}}" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="{{x .DocTitle}}"/>
					<title>{{x .Title}}</title>
					<text>
						<paragraph>{{x .DocTitle}} {{x .Ext}}: {{x .Text}}</paragraph>
					</text>
					<entry>
						<act classCode="ACT" moodCode="EVN">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.850"/>
							<code code="55107-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Appendice"/>
							<statusCode code="completed"/>
							<reference typeCode="REFR">
								<externalDocument classCode="DOCCLIN" moodCode="EVN">
									<id root="2.16.840.1.113883.2.9.2.{{x $.D.Region}}.4.4" extension="{{x .Ext}}"/>
									<code code="{{.Code}}" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="{{x .DocTitle}}"/>
								</externalDocument>
							</reference>
						</act>
					</entry>
				</section>
			</component>
{{- end}}
		</structuredBody>
	</component>
</ClinicalDocument>
`))
