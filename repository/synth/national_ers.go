package synth

import "text/template"

// The Erogazione specialistica (delivery of a specialist service on an
// SSN prescription, LOINC 81223-0), as the national schematron
// (schematronFSE_ErS_1.1) shapes it: its one section has one entry, the
// service delivered (a code of the Catalogo Nazionale delle Prestazioni),
// where (the kind of ambulatorio), how many times, the service the
// prescription asked for, which the specialist changed, the specialty
// and the waiting list (from booking to delivery, with the prescription's
// priority). Its header is the Erogazione farmaceutica's (national_erf.go).

func init() { registerNational("ErS", buildErS) }

func buildErS(d Document) []byte {
	e := newErogData(d, "2.16.840.1.113883.2.9.10.1.13.1.2", "81223-0", "Erogazione Specialistica", "Erogazione specialistica", "Specialista",
		"Poliambulatorio sintetico "+d.Org)
	return nationalRender(erogSTemplate, e)
}

var erogSTemplate = template.Must(template.New("ErS").Funcs(nationalFuncs).Parse(erogHeader + `{{template "header" .}}
	<component>
		<structuredBody>
			<component>
				<section>
					<templateId root="2.16.840.1.113883.3.1937.777.63.10.299"/>
					<code code="103146-7" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC" displayName="Prestazioni specialistiche erogate"/>
					<title>Erogazione specialistica</title>
					<text>
						<paragraph ID="prest1">{{x .Facility}}, ambulatorio individuato dalla Regione: <content ID="prest1-erogata">elettrocardiogramma (89.52)</content>, eseguito una volta il {{.Show 0 0 0}} sulla ricetta {{x .NRE}} del {{.Show 0 -2 0}}.</paragraph>
						<paragraph ID="prest1-variazione">Prestazione prescritta: <content ID="prest1-prescritta">test cardiovascolare da sforzo con pedana mobile (89.41)</content>; variata dallo specialista, che ha ritenuto indicato un elettrocardiogramma di base.</paragraph>
						<paragraph>Branca specialistica: <content ID="prest1-branca">02 - Cardiologia</content>.</paragraph>
						<paragraph ID="prest1-attesa">Classe di priorità B (breve): prenotata il {{.Show 0 0 -8}}, erogata il {{.Show 0 0 0}}.</paragraph>
					</text>
					<entry>
						<observation classCode="OBS" moodCode="EVN">
							<templateId root="2.16.840.1.113883.3.1937.777.63.10.300"/>
							<id root="{{x .Root}}" extension="{{x .Ext}}.1"/>
							<code code="89.52" codeSystem="2.16.840.1.113883.2.9.6.1.11" codeSystemName="Catalogo Nazionale Prestazioni" displayName="ELETTROCARDIOGRAMMA">
								<originalText><reference value="#prest1-erogata"/></originalText>
							</code>
							<text><reference value="#prest1"/></text>
							<statusCode code="completed"/>
							<effectiveTime value="{{.TS}}"/>
							<repeatNumber value="1"/>
							<participant typeCode="LOC">
								<participantRole classCode="ROL">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.304"/>
									<scopingEntity classCode="ENT">
										<code code="R" codeSystem="2.16.840.1.113883.2.9.6.3.1.1" displayName="Ambulatori/Laboratori individuati dalla Regione"/>
										<desc>{{x .Facility}}</desc>
									</scopingEntity>
								</participantRole>
							</participant>
							<entryRelationship typeCode="COMP">
								<act classCode="ACT" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.302"/>
									<code code="V" codeSystem="2.16.840.1.113883.2.9.6.1.53" codeSystemName="Codice sostituzione" displayName="Prestazione variata dall'erogatore rispetto alla prescrizione"/>
									<text><reference value="#prest1-variazione"/></text>
									<entryRelationship typeCode="COMP">
										<observation classCode="OBS" moodCode="RQO">
											<templateId root="2.16.840.1.113883.3.1937.777.63.10.329"/>
											<code code="89.41" codeSystem="2.16.840.1.113883.2.9.6.1.11" codeSystemName="Catalogo Nazionale Prestazioni" displayName="TEST CARDIOVASCOLARE DA SFORZO CON PEDANA MOBILE">
												<originalText><reference value="#prest1-prescritta"/></originalText>
											</code>
											<statusCode code="completed"/>
											<effectiveTime value="{{.At 0 -2 0}}"/>
										</observation>
									</entryRelationship>
								</act>
							</entryRelationship>
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.327"/>
									<code nullFlavor="OTH">
										<originalText>Branca specialistica</originalText>
									</code>
									<statusCode code="completed"/>
									<value xsi:type="ST">02 - Cardiologia</value>
								</observation>
							</entryRelationship>
							<entryRelationship typeCode="COMP">
								<observation classCode="OBS" moodCode="EVN">
									<templateId root="2.16.840.1.113883.3.1937.777.63.10.328"/>
									<code nullFlavor="OTH">
										<originalText>Lista di attesa</originalText>
									</code>
									<text><reference value="#prest1-attesa"/></text>
									<statusCode code="completed"/>
									<effectiveTime>
										<low value="{{.At 0 0 -8}}"/>
										<high value="{{.TS}}"/>
									</effectiveTime>
									<value xsi:type="CD" code="B" codeSystem="2.16.840.1.113883.2.9.5.2.3" displayName="Breve"/>
								</observation>
							</entryRelationship>
						</observation>
					</entry>
				</section>
			</component>
		</structuredBody>
	</component>
</ClinicalDocument>
`))
