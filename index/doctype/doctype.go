// Package doctype is the FSE 2.0 table of document types: each LOINC code
// a region may publish, its Italian name, and the document class
// (tipoDocumentoLivAlto) it must be indexed under. The index enforces the
// pair: a type with another class is refused.
package doctype

import (
	"fmt"
	"sort"
)

// LOINCSystem is the code system of document types.
const LOINCSystem = "http://loinc.org"

// Class is a tipoDocumentoLivAlto code.
type Class string

// Document classes.
const (
	REF Class = "REF" // referto
	LDO Class = "LDO" // lettera di dimissione
	SUM Class = "SUM" // sintesi (profilo sanitario sintetico…)
	VRB Class = "VRB" // verbale
	PRS Class = "PRS" // prescrizione
	PRE Class = "PRE" // erogazione
	ESE Class = "ESE" // esenzione
	PDC Class = "PDC" // piano di cura
	CON Class = "CON" // consensi
	VAC Class = "VAC" // vaccinazioni
	CNT Class = "CNT" // controlli (bilanci di salute)
	TAC Class = "TAC" // taccuino
	COL Class = "COL" // cartella clinica
	LET Class = "LET" // lettera (di invito)
)

// Type is one document type of the table.
type Type struct {
	LOINC string
	Name  string // Italian, as in FSE
	Class Class
	// Guide names the HL7 Italia guide that defines a type the national
	// list does not have yet ("" for the national list's).
	Guide string
}

var table = []Type{
	{"11502-2", "Referto di laboratorio", REF, ""},
	{"68604-8", "Referto di radiologia", REF, ""},
	{"11526-1", "Referto di anatomia patologica", REF, ""},
	{"11488-4", "Referto specialistico ambulatoriale", REF, ""},
	{"75496-0", "Referto di televisita", REF, ""},
	{"85208-7", "Referto / relazione di teleconsulto", REF, ""},
	// HL7 Italia's telemonitoring guide types its Report rilevazione
	// 64296-7 (its value set vsTipologiaDocumentale); its Piano and
	// Relazione finale are 53576-5 and its Tesserino 75496-0, listed here.
	{"64296-7", "Report rilevazione di telemonitoraggio", REF, "hl7-it/telemonitoraggio"},
	// Types the national gateway's own schematrons (it-fse-catalogs)
	// judge under codes the national list does not carry.
	{"60593-1", "Erogazione farmaceutica", PRE, "it-fse-catalogs schematronFSE_ErF, schematron_ErF_NoSSN"},
	{"108276-7", "Lettera di invito allo screening", LET, "it-fse-catalogs schematron_Lettera_Screening"},
	{"111490-9", "Lettera di invito alla vaccinazione", LET, "it-fse-catalogs schematron_Lettera_VACC"},
	{"34105-7", "Lettera di dimissione ospedaliera", LDO, ""},
	{"18842-5", "Lettera di dimissione non ospedaliera", LDO, ""},
	{"60591-5", "Profilo sanitario sintetico", SUM, ""},
	{"55750-4", "Resoconto sicurezza paziente", SUM, ""},
	{"101881-1", "Tessera portatori di impianto", SUM, ""},
	{"59258-4", "Verbale di pronto soccorso", VRB, ""},
	{"57833-6", "Prescrizione farmaceutica", PRS, ""},
	{"57832-8", "Prescrizione diagnostica o specialistica", PRS, ""},
	{"57829-4", "Prescrizione per prodotti o apparecchiature mediche", PRS, ""},
	{"29304-3", "Erogazione farmaceutica", PRE, ""},
	{"81223-0", "Erogazione specialistica", PRE, ""},
	{"57827-8", "Documento di esenzione", ESE, ""},
	{"18776-5", "Piano terapeutico", PDC, ""},
	{"59284-0", "Documento dei consensi", CON, ""},
	{"87273-9", "Scheda della singola vaccinazione", VAC, ""},
	{"82593-5", "Certificato vaccinale", VAC, ""},
	{"68814-3", "Bilanci di salute pediatrici", CNT, ""},
	{"103140-0", "Taccuino: documento personale", TAC, ""},
	{"53576-5", "Taccuino bundle", TAC, ""},
	{"100971-1", "Cartella clinica", COL, ""},
}

var byCode = func() map[string]Type {
	m := make(map[string]Type, len(table))
	for _, t := range table {
		m[t.LOINC] = t
	}
	return m
}()

// Well-known types the access policy names.
const (
	PatientSummary  = "60591-5" // opened by purpose EMERGENCY
	EmergencyReport = "59258-4" // opened by purpose EMERGENCY
)

// Lookup returns the type of a LOINC code.
func Lookup(loinc string) (Type, bool) {
	t, ok := byCode[loinc]
	return t, ok
}

// Check refuses a LOINC code that FSE does not list, and a class that is
// not the code's.
func Check(loinc string, class Class) error {
	t, ok := byCode[loinc]
	if !ok {
		return fmt.Errorf("document type %q is not an FSE document type", loinc)
	}
	if t.Class != class {
		return fmt.Errorf("document type %s (%s) belongs to class %s, not %s", loinc, t.Name, t.Class, class)
	}
	return nil
}

// ValidClass reports whether c is a document class.
func ValidClass(c Class) bool {
	for _, t := range table {
		if t.Class == c {
			return true
		}
	}
	return false
}

// All returns the table, ordered by LOINC code.
func All() []Type {
	out := append([]Type(nil), table...)
	sort.Slice(out, func(i, j int) bool { return out[i].LOINC < out[j].LOINC })
	return out
}
