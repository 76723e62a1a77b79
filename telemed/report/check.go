package report

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Failure is one broken rule, named by the national schematron's id.
type Failure struct {
	Rule    string `json:"rule"` // "ERRORE-n" of the kind's schematron
	Message string `json:"message"`
}

func (f Failure) String() string { return f.Rule + ": " + f.Message }

// Check judges doc by the rules of kind's national schematron that
// fsenet implements (Rules lists them) and returns the broken ones,
// deduplicated and sorted by rule id; none means the document passes
// them. It fails only when doc is not a CDA ClinicalDocument it can read
// (ErrNotCDA) or kind is unknown (ErrUnknownKind).
func Check(kind Kind, doc []byte) ([]Failure, error) {
	sp, ok := specs[kind]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKind, kind)
	}
	root, err := parse(doc)
	if err != nil {
		return nil, err
	}
	c := &ctx{kind: kind, spec: sp, doc: nodes{root}, root: root}
	seen := map[string]bool{}
	var out []Failure
	for _, r := range rules {
		id := r.id(kind)
		if id == "" || seen[id] {
			continue
		}
		if !r.ok(c) {
			seen[id] = true
			out = append(out, Failure{Rule: id, Message: r.msg})
		}
	}
	slices.SortFunc(out, func(a, b Failure) int { return compareIDs(a.Rule, b.Rule) })
	return out, nil
}

// Rules lists the ids of the rules Check implements for kind, sorted.
func Rules(kind Kind) []string {
	var out []string
	for _, r := range rules {
		if id := r.id(kind); id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, compareIDs)
	return out
}

// compareIDs orders rule ids naturally: ERRORE-2 before ERRORE-10, the
// header's before the body's (ERRORE-bn).
func compareIDs(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, _ := strconv.Atoi(a[:min(da, 9)])
			nb, _ := strconv.Atoi(b[:min(db, 9)])
			if c := cmp.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// ctx is the document a rule judges.
type ctx struct {
	kind Kind
	spec spec
	root *node
	doc  nodes // the ClinicalDocument
	// byName indexes the document's HL7 elements by local name, and all
	// its elements under "*" (the schematrons' //hl7:name contexts).
	byName map[string]nodes
}

// all is //hl7:local in document order ("*": every element).
func (c *ctx) all(local string) nodes {
	if c.byName == nil {
		c.byName = map[string]nodes{}
		for _, n := range descendants(c.root, "*") {
			c.byName["*"] = append(c.byName["*"], n)
			if n.space == nsHL7 {
				c.byName[n.local] = append(c.byName[n.local], n)
			}
		}
	}
	return c.byName[local]
}

// rule is one assert of the national schematrons. The three schematrons
// share most of their rules under different ids, and word some of them
// differently: a rule carries its id in each schematron that has it
// (with the same test), and a rule a schematron words its own way is a
// rule of that schematron alone.
type rule struct {
	tv, tc, ta string // id in the Televisita, Teleconsulto (CTC), Teleassistenza schematron; "" if none
	msg        string
	ok         func(c *ctx) bool
}

func (r rule) id(k Kind) string {
	switch k {
	case Televisita:
		return r.tv
	case Teleconsulto:
		return r.tc
	case Teleassistenza:
		return r.ta
	}
	return ""
}

// e is "ERRORE-" + n, or "" for "".
func e(n string) string {
	if n == "" {
		return ""
	}
	return "ERRORE-" + n
}

// Paths the rules share.
const (
	pPatient   = "recordTarget/patientRole/patient"
	pCustOrg   = "custodian/assignedCustodian/representedCustodianOrganization"
	pLA        = "legalAuthenticator"
	pLAPerson  = "legalAuthenticator/assignedEntity/assignedPerson"
	pEncounter = "componentOf/encompassingEncounter"
	pLocation  = pEncounter + "/location"
	pFacility  = pLocation + "/healthCareFacility"
	pProvider  = pFacility + "/serviceProviderOrganization"
	pSections  = "component/structuredBody/component/section"
)

// Identifier roots the rules name.
const (
	oidTEAMCard   = "2.16.840.1.113883.2.9.4.3.7"
	oidTEAMPerson = "2.16.840.1.113883.2.9.4.3.3"
	oidENI        = "2.16.840.1.113883.2.9.4.3.18"
	oidSTP        = "2.16.840.1.113883.2.9.4.3.17"
	oidANA        = "2.16.840.1.113883.2.9.4.3.15"
	oidFacility   = "2.16.840.1.113883.2.9.4.1.6"
	oidStrutture  = "2.16.840.1.113883.2.9.4.1.3"
	oidPriority   = "2.16.840.1.113883.5.7"
	oidICD9CM     = "2.16.840.1.113883.6.103"
)

// regionCodes are the region codes of the schematrons' regional
// identifier roots, as they write them (no leading zero).
var regionCodes = []string{"10", "20", "30", "41", "42", "50", "60", "70", "80", "90", "100", "110", "120", "130",
	"140", "150", "160", "170", "180", "190", "200"}

// regionalRoot reports whether root is 2.16.840.1.113883.2.9.2.<region><suffix>
// for a region of regionCodes.
func regionalRoot(root, suffix string) bool {
	rest, ok := strings.CutPrefix(root, OIDRegionPrefix)
	if !ok {
		return false
	}
	code, ok := strings.CutSuffix(rest, suffix)
	return ok && slices.Contains(regionCodes, code)
}

// nameOK is count(p/name/given)=1 and count(p/name/family)=1 for the
// node-set p.
func nameOK(p nodes) bool { return p.at("name/given").n() == 1 && p.at("name/family").n() == 1 }

// addrOK is: every addr of ns has one country, one city and one
// streetAddressLine (counted over all of them, as the schematrons do).
func addrOK(addrs nodes) bool {
	n := addrs.n()
	return n == 0 || (addrs.at("country").n() == n && addrs.at("city").n() == n && addrs.at("streetAddressLine").n() == n)
}

// every is true when f holds for every node of ns (each a rule context).
func every(ns nodes, f func(n nodes) bool) bool {
	for _, n := range ns {
		if !f(nodes{n}) {
			return false
		}
	}
	return true
}

// versionNumber is number(versionNumber/@value), NaN-less: ok is false
// for NaN (absent or not a number).
func (c *ctx) versionNumber() (v float64, raw string, ok bool) {
	vals := c.doc.at("versionNumber").attrs("value")
	if len(vals) == 0 {
		return 0, "", false
	}
	raw = vals[0]
	v, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
	if err != nil || v != v {
		return 0, raw, false
	}
	return v, raw, true
}

// anyEqual is the XPath general comparison a = b of two value sequences.
func anyEqual(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// anyDiffer is a != b.
func anyDiffer(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x != y {
				return true
			}
		}
	}
	return false
}

// Section helpers: sections are the body's top-level sections.
func (c *ctx) sections() nodes { return c.doc.at(pSections) }

// sec is section[hl7:code[@code=code]].
func (c *ctx) sec(code string) nodes { return c.sections().withChild("code", "code", code) }

// secCode is count(section/code[@code=code][@codeSystem=LOINC]).
func (c *ctx) secCode(code string) int {
	return c.sections().at("code").withAttr("code", code).withAttr("codeSystem", OIDLOINC).n()
}

// templateOK is: no such section, or no templateId, or one templateId of
// root tpl.
func (c *ctx) templateOK(code, tpl string) bool {
	s := c.sec(code)
	return s.n() == 0 || s.at("templateId").n() == 0 || s.at("templateId").withAttr("root", tpl).n() == 1
}

// textOK is: no such section, or one text.
func (c *ctx) textOK(code string) bool {
	s := c.sec(code)
	return s.n() == 0 || s.at("text").n() == 1
}

// prestazioniActs are the entry/act of the Prestazioni sections.
func (c *ctx) prestazioniActs() nodes { return c.sec(secPrestazioni).at("entry/act") }

// optionalSections are the optional sections the three schematrons
// share: code, templateId root, and the ids of the templateId and text
// rules in each schematron (Televisita; CTC and Teleassistenza alike).
var optionalSections = []struct {
	code, tpl, name string
	tvTpl, tvText   string
	ctaTpl, ctaText string
}{
	{"11329-0", "2.16.840.1.113883.3.1937.777.63.10.649", "Storia Clinica", "b15", "b16", "b16", "b17"},
	{"30954-2", "2.16.840.1.113883.3.1937.777.63.10.656", "Precedenti Esami Eseguiti", "b25", "b26", "b26", "b27"},
	{"29545-1", "2.16.840.1.113883.3.1937.777.63.10.669", "Esame Obiettivo", "b27", "b28", "b28", "b29"},
	{"93126-1", "2.16.840.1.113883.3.1937.777.63.10.694", "Confronto Con Precedenti Esami Eseguiti", "b29", "b30", "b30", "b31"},
	{"29548-5", "2.16.840.1.113883.3.1937.777.63.10.696", "Diagnosi", "b31", "b32", "b32", "b33"},
	{"55110-1", "2.16.840.1.113883.3.1937.777.63.10.698", "Conclusioni", "b33", "b34", "b34", "b35"},
	{"62385-0", "2.16.840.1.113883.3.1937.777.63.10.699", "Suggerimenti per il medico prescrittore", "b35", "b36", "b36", "b37"},
	{"80615-8", "2.16.840.1.113883.3.1937.777.63.10.701", "Accertamenti e controlli consigliati", "b37", "b38", "b38", "b39"},
	{"93341-6", "2.16.840.1.113883.3.1937.777.63.10.702", "Terapia farmacologica consigliata", "b39", "b40", "b40", "b41"},
}

// sectionCodes are the top-level section codes the three schematrons
// allow (televisita ERRORE-b41, CTC and teleassistenza ERRORE-b42).
var sectionCodes = []string{"29299-5", "11329-0", "30954-2", "29545-1", "62387-6", "93126-1", "47045-0", "29548-5",
	"55110-1", "62385-0", "80615-8", "93341-6"}

var rules = buildRules()

func buildRules() []rule {
	var rs []rule
	add := func(tv, tc, ta, msg string, ok func(c *ctx) bool) {
		rs = append(rs, rule{tv: tv, tc: tc, ta: ta, msg: msg, ok: ok})
	}
	add3 := func(ids [3]string, msg string, ok func(c *ctx) bool) { add(ids[0], ids[1], ids[2], msg, ok) }
	same := func(n string) [3]string { return [3]string{e(n), e(n), e(n)} } // one id in all three schematrons

	// Header: ClinicalDocument.
	add3(same("1"), "Il documento DEVE avere un elemento realmCode.", func(c *ctx) bool { return c.doc.at("realmCode").n() == 1 })
	add3(same("2"), "realmCode DEVE avere @code='IT'.", func(c *ctx) bool { return c.doc.at("realmCode").withAttr("code", "IT").n() == 1 })
	add3(same("3"), "Il documento DEVE avere almeno un templateId.", func(c *ctx) bool { return c.doc.at("templateId").n() >= 1 })
	add3(same("4"), "Un templateId DEVE avere @root del template nazionale del documento e @extension (la versione).", func(c *ctx) bool {
		t := c.doc.at("templateId").withAttr("root", c.spec.template)
		return t.n() == 1 && len(t.attrs("extension")) == 1
	})
	add3(same("5"), "code DEVE avere il @code LOINC del tipo di documento e @codeSystem='2.16.840.1.113883.6.1'.", func(c *ctx) bool {
		return c.doc.at("code").withAttr("code", c.spec.loinc).withAttr("codeSystem", OIDLOINC).n() == 1
	})
	add3(same("6"), "confidentialityCode DEVE avere @code N, R o V e @codeSystem='2.16.840.1.113883.5.25'.", func(c *ctx) bool {
		cc := c.doc.at("confidentialityCode").withAttr("codeSystem", OIDConfid)
		return cc.withAttr("code", "N").n() == 1 || cc.withAttr("code", "V").n() == 1 || cc.withAttr("code", "R").n() == 1
	})
	add3(same("7"), "Il documento DEVE avere un solo languageCode.", func(c *ctx) bool { return c.doc.at("languageCode").n() == 1 })
	add3(same("8"), "id e setId coincidono solo nella prima versione del documento (versionNumber 1).", func(c *ctx) bool {
		_, raw, ok := c.versionNumber()
		if !ok {
			return true
		}
		ids, sets := c.doc.at("id"), c.doc.at("setId")
		idRoot, idExt := ids.attrs("root"), ids.attrs("extension")
		setRoot, setExt := sets.attrs("root"), sets.attrs("extension")
		one := raw == "1"
		return (one && sets.n() == 0) ||
			(one && anyEqual(idRoot, setRoot) && anyEqual(idExt, setExt)) ||
			(raw != "1" && anyEqual(idRoot, setRoot) && anyDiffer(idExt, setExt)) ||
			anyDiffer(idRoot, setRoot)
	})
	add3(same("9"), "Con versionNumber maggiore di 1 il documento DEVE avere uno o due relatedDocument.", func(c *ctx) bool {
		v, _, ok := c.versionNumber()
		n := c.doc.at("relatedDocument").n()
		return !ok || v == 1 || (v > 1 && n >= 1 && n <= 2)
	})
	add3(same("10"), "Due relatedDocument sono ammessi solo come XFRM con RPLC o con APND.", func(c *ctx) bool {
		rd := c.doc.at("relatedDocument")
		return rd.n() < 2 || (rd.withAttr("typeCode", "XFRM").n() == 1 &&
			(rd.withAttr("typeCode", "RPLC").n() == 1 || rd.withAttr("typeCode", "APND").n() == 1))
	})
	add3(same("11"), "Il documento DEVE avere un solo recordTarget.", func(c *ctx) bool { return c.doc.at("recordTarget").n() == 1 })
	add3(same("12"), "recordTarget/patientRole/id DEVE avere @root di un identificativo nazionale (CF, TEAM, ENI, STP, ANA) o regionale.", func(c *ctx) bool {
		ids := c.doc.at("recordTarget/patientRole/id")
		for _, r := range []string{OIDCF, oidTEAMCard, oidTEAMPerson, oidENI, oidSTP, oidANA} {
			if ids.withAttr("root", r).n() == 1 {
				return true
			}
		}
		for _, suffix := range []string{".4.1.1", ".4.1"} {
			if ids.where(func(n *node) bool { r, _ := n.attr("root"); return regionalRoot(r, suffix) }).n() == 1 {
				return true
			}
		}
		return false
	})
	add3(same("13"), "Per un assicurato da istituzione estera DEVONO esserci entrambi gli id TEAM (2.16.840.1.113883.2.9.4.3.7 e .3.3).", func(c *ctx) bool {
		ids := c.doc.at("recordTarget/patientRole/id")
		card, person := ids.withAttr("root", oidTEAMCard).n(), ids.withAttr("root", oidTEAMPerson).n()
		return (card == 0 || person == 1) && (person == 0 || card == 1)
	})
	stp := func(c *ctx) bool {
		ids := c.doc.at("recordTarget/patientRole/id")
		national := false
		for _, r := range []string{OIDCF, oidTEAMCard, oidTEAMPerson, oidENI, oidANA} {
			national = national || ids.withAttr("root", r).n() != 0
		}
		if !national {
			return true
		}
		if c.kind == Teleconsulto {
			return ids.where(func(n *node) bool { r, _ := n.attr("root"); return regionalRoot(r, ".4.1.1") }).n() != 1
		}
		for _, code := range regionCodes {
			if ids.withAttr("root", OIDRegionPrefix+code+".4.1.1").n() == 1 {
				return false
			}
		}
		return true
	}
	add3(same("14"), "Per uno Straniero Temporaneamente Presente l'id del paziente DEVE essere un identificativo STP.", stp)
	add3(same("15"), "recordTarget/patientRole/addr DEVE avere country, city e streetAddressLine.", func(c *ctx) bool {
		return addrOK(c.doc.at("recordTarget/patientRole/addr"))
	})
	add3(same("16"), "recordTarget/patientRole DEVE contenere patient.", func(c *ctx) bool { return c.doc.at(pPatient).n() == 1 })
	add(e("17"), "", e("17"), "recordTarget/patientRole/patient DEVE contenere name.", func(c *ctx) bool {
		p := c.doc.at(pPatient)
		return p.n() == 0 || p.at("name").n() == 1
	})
	add(e("18"), "", "", "recordTarget/patientRole/patient/name DEVE avere given e family.", func(c *ctx) bool {
		p := c.doc.at(pPatient)
		return p.n() == 0 || nameOK(p)
	})
	add("", e("17"), "", "recordTarget/patientRole/patient DEVE contenere name, con given e family.", func(c *ctx) bool {
		p := c.doc.at(pPatient)
		return p.n() == 0 || (p.at("name").n() == 1 && nameOK(p))
	})
	add("", "", e("18"), "recordTarget/patientRole/patient/name DEVE avere given e family.", func(c *ctx) bool {
		p := c.doc.at(pPatient)
		return p.n() == 0 || (p.at("name/given").n() >= 1 && p.at("name/family").n() >= 1)
	})
	add3(same("19"), "recordTarget/patientRole/patient DEVE contenere administrativeGenderCode.", func(c *ctx) bool {
		p := c.doc.at(pPatient)
		return (c.kind == Teleconsulto && p.n() == 0) || p.at("administrativeGenderCode").n() == 1
	})
	add3(same("20"), "administrativeGenderCode DEVE avere @codeSystem='2.16.840.1.113883.5.1'.", func(c *ctx) bool {
		p := c.doc.at(pPatient)
		return (c.kind == Teleconsulto && p.n() == 0) || slices.Contains(p.at("administrativeGenderCode").attrs("codeSystem"), OIDGender)
	})
	add3(same("21"), "recordTarget/patientRole/patient DEVE avere birthTime (nullFlavor UNK se ignota).", func(c *ctx) bool {
		p := c.doc.at(pPatient)
		return p.n() == 0 || p.at("birthTime").n() == 1
	})
	add(e("22"), "", "", "recordTarget/patientRole/patient DEVE avere birthplace/place/addr.", func(c *ctx) bool {
		return c.doc.at(pPatient+"/birthplace/place/addr").n() == 1
	})
	add("", e("22"), "", "recordTarget/patientRole/patient/birthplace DEVE avere place/addr con country.", func(c *ctx) bool {
		p := c.doc.at(pPatient)
		return p.n() == 0 || p.at("birthplace/place/addr/country").n() == 1
	})
	add("", "", e("22"), "birthplace, se presente, DEVE avere place/addr con country.", func(c *ctx) bool {
		p := c.doc.at(pPatient)
		return p.at("birthplace").n() == 0 || p.at("birthplace/place/addr/country").n() == 1
	})
	add("", e("22a"), "", "guardian/guardianPerson, se presente, DEVE avere name con given e family.", func(c *ctx) bool {
		p := c.doc.at(pPatient)
		g := p.at("guardian")
		return p.n() == 0 || g.n() == 0 || g.at("guardianPerson").n() == 0 || nameOK(g.at("guardianPerson"))
	})

	// Author.
	add(e("41"), "", e("23"), "Il documento DEVE avere un author.", func(c *ctx) bool { return c.doc.at("author").n() == 1 })
	add("", e("23"), "", "Il documento DEVE avere almeno un author.", func(c *ctx) bool { return c.doc.at("author").n() >= 1 })
	add(e("42"), "", "", "author/assignedAuthor DEVE avere un id con @root='2.16.840.1.113883.2.9.4.3.2' (codice fiscale).", func(c *ctx) bool {
		return every(c.doc.at("author"), func(a nodes) bool { return a.at("assignedAuthor/id").withAttr("root", OIDCF).n() == 1 })
	})
	add("", "", e("24"), "author/assignedAuthor DEVE avere un id con @root='2.16.840.1.113883.2.9.4.3.2' (codice fiscale).", func(c *ctx) bool {
		return c.doc.at("author/assignedAuthor/id").withAttr("root", OIDCF).n() == 1
	})
	add("", "", e("24a"), "author/assignedAuthor/addr DEVE avere country, city e streetAddressLine.", func(c *ctx) bool {
		a := c.doc.at("author/assignedAuthor/addr")
		return a.n() == 0 || (a.at("country").n() == 1 && a.at("city").n() == 1 && a.at("streetAddressLine").n() == 1)
	})
	add(e("43"), "", "", "author/assignedAuthor/assignedPerson DEVE avere name.", func(c *ctx) bool {
		return every(c.doc.at("author"), func(a nodes) bool { return a.at("assignedAuthor/assignedPerson/name").n() == 1 })
	})
	add(e("44"), "", "", "author/assignedAuthor/assignedPerson/name DEVE avere given e family.", func(c *ctx) bool {
		return every(c.doc.at("author"), func(a nodes) bool {
			p := a.at("assignedAuthor/assignedPerson")
			return p.at("name").n() == 0 || nameOK(p)
		})
	})
	add("", e("46"), "", "author/assignedAuthor/assignedPerson DEVE avere name, con given e family.", func(c *ctx) bool {
		return every(c.doc.at("author"), func(a nodes) bool {
			p := a.at("assignedAuthor/assignedPerson")
			return p.at("name").n() == 1 && nameOK(p)
		})
	})
	add("", "", e("25"), "author/assignedAuthor/assignedPerson DEVE avere name.", func(c *ctx) bool {
		p := c.doc.at("author/assignedAuthor/assignedPerson")
		return p.n() == 0 || p.at("name").n() == 1
	})
	add("", "", e("26"), "author/assignedAuthor/assignedPerson/name DEVE avere given e family.", func(c *ctx) bool {
		p := c.doc.at("author/assignedAuthor/assignedPerson")
		return p.n() == 0 || nameOK(p)
	})

	// dataEnterer.
	add(e("23"), e("24"), e("27"), "dataEnterer, se presente, DEVE avere time.", func(c *ctx) bool {
		d := c.doc.at("dataEnterer")
		return d.n() == 0 || d.at("time").n() == 1
	})
	add(e("24"), "", "", "dataEnterer/assignedEntity DEVE avere un id con @root='2.16.840.1.113883.2.9.4.3.2'.", func(c *ctx) bool {
		d := c.doc.at("dataEnterer")
		return d.n() == 0 || d.at("assignedEntity/id").withAttr("root", OIDCF).n() == 1
	})
	add(e("25"), "", e("28"), "dataEnterer/assignedEntity/assignedPerson DEVE avere name.", func(c *ctx) bool {
		d := c.doc.at("dataEnterer")
		p := d.at("assignedEntity/assignedPerson")
		return d.n() == 0 || p.n() == 0 || p.at("name").n() == 1
	})
	add(e("26"), "", e("29"), "dataEnterer/assignedEntity/assignedPerson/name DEVE avere given e family.", func(c *ctx) bool {
		d := c.doc.at("dataEnterer")
		p := d.at("assignedEntity/assignedPerson")
		return d.n() == 0 || p.n() == 0 || nameOK(p)
	})
	add("", e("26"), "", "dataEnterer/assignedEntity/assignedPerson DEVE avere name, con given e family.", func(c *ctx) bool {
		d := c.doc.at("dataEnterer")
		p := d.at("assignedEntity/assignedPerson")
		return d.n() == 0 || p.n() == 0 || (p.at("name").n() == 1 && nameOK(p))
	})

	// Custodian.
	add("", e("28"), e("30"), "Il documento DEVE avere custodian.", func(c *ctx) bool { return c.doc.at("custodian").n() == 1 })
	add(e("27"), "", e("31"), "custodian/assignedCustodian/representedCustodianOrganization DEVE avere name.", func(c *ctx) bool {
		return c.doc.at(pCustOrg+"/name").n() == 1
	})
	add("", e("29"), "", "custodian/assignedCustodian/representedCustodianOrganization DEVE avere name.", func(c *ctx) bool {
		return c.doc.at("custodian").n() == 0 || c.doc.at(pCustOrg+"/name").n() == 1
	})
	add(e("28"), e("30"), e("32"), "representedCustodianOrganization/addr DEVE avere country, city e streetAddressLine.", func(c *ctx) bool {
		return addrOK(c.doc.at(pCustOrg + "/addr"))
	})

	// informationRecipient.
	add("", "", e("33"), "informationRecipient/intendedRecipient/informationRecipient DEVE avere name con given e family.", func(c *ctx) bool {
		ir := c.doc.at("informationRecipient")
		p := ir.at("intendedRecipient/informationRecipient")
		return ir.n() == 0 || p.n() == 0 || nameOK(p)
	})
	add(e("53"), "", "", "intendedRecipient/informationRecipient DEVE avere name.", func(c *ctx) bool {
		return every(c.doc.at("informationRecipient"), func(ir nodes) bool {
			p := ir.at("intendedRecipient/informationRecipient")
			return p.n() == 0 || p.at("name").n() == 1
		})
	})
	add(e("54"), "", "", "intendedRecipient/informationRecipient/name DEVE avere given e family.", func(c *ctx) bool {
		return every(c.doc.at("informationRecipient"), func(ir nodes) bool {
			p := ir.at("intendedRecipient/informationRecipient")
			return p.at("name").n() == 0 || nameOK(p)
		})
	})

	// legalAuthenticator.
	add3([3]string{e("29"), e("31"), e("34")}, "legalAuthenticator è obbligatorio.", func(c *ctx) bool { return c.doc.at(pLA).n() == 1 })
	add3([3]string{e("30"), e("32"), e("35")}, "legalAuthenticator/signatureCode DEVE avere @code='S'.", func(c *ctx) bool {
		return c.doc.at(pLA).n() == 0 || c.doc.at(pLA+"/signatureCode").withAttr("code", "S").n() == 1
	})
	add(e("32"), "", e("36"), "legalAuthenticator/assignedEntity/assignedPerson DEVE avere name.", func(c *ctx) bool {
		p := c.doc.at(pLAPerson)
		return c.doc.at(pLA).n() == 0 || p.n() == 0 || p.at("name").n() == 1
	})
	add(e("33"), "", e("37"), "legalAuthenticator/assignedEntity/assignedPerson/name DEVE avere given e family.", func(c *ctx) bool {
		p := c.doc.at(pLAPerson)
		return c.doc.at(pLA).n() == 0 || p.n() == 0 || nameOK(p)
	})
	add("", e("34"), "", "legalAuthenticator/assignedEntity/assignedPerson DEVE avere name, con given e family.", func(c *ctx) bool {
		p := c.doc.at(pLAPerson)
		return c.doc.at(pLA).n() == 0 || p.n() == 0 || (p.at("name").n() == 1 && nameOK(p))
	})

	// componentOf.
	add3([3]string{e("34"), e("36"), e("38")}, "componentOf è obbligatorio.", func(c *ctx) bool { return c.doc.at("componentOf").n() == 1 })
	add3([3]string{e("35"), e("37"), e("39")}, "responsibleParty/assignedEntity/assignedPerson/name DEVE avere given e family.", func(c *ctx) bool {
		ae := c.doc.at(pEncounter + "/responsibleParty/assignedEntity")
		return c.doc.at("componentOf").n() == 0 || ae.n() == 0 || ae.at("assignedPerson").n() == 0 || nameOK(ae.at("assignedPerson"))
	})
	add3([3]string{e("36"), e("38"), e("40")}, "componentOf/encompassingEncounter DEVE avere location.", func(c *ctx) bool {
		return c.doc.at("componentOf").n() == 0 || c.doc.at(pLocation).n() == 1
	})
	add(e("37"), "", e("41"), "encompassingEncounter/location/healthCareFacility DEVE essere presente.", func(c *ctx) bool {
		return c.doc.at("componentOf").n() == 0 || c.doc.at(pFacility).n() == 1
	})
	add("", e("40"), e("42"), "healthCareFacility/id, se presente, DEVE avere @root='2.16.840.1.113883.2.9.4.1.6'.", func(c *ctx) bool {
		ids := c.doc.at(pFacility + "/id")
		return c.doc.at("componentOf").n() == 0 || ids.n() == 0 || ids.withAttr("root", oidFacility).n() == 1
	})
	add(e("38"), e("42"), "", "healthCareFacility/serviceProviderOrganization DEVE essere presente, con @classCode='ORG'.", func(c *ctx) bool {
		return c.doc.at("componentOf").n() == 0 || c.doc.at(pProvider).where(func(n *node) bool { return n.has("classCode") }).n() == 1
	})
	add("", "", e("43"), "healthCareFacility/serviceProviderOrganization DEVE essere presente, con @classCode='ORG'.", func(c *ctx) bool {
		return c.doc.at("componentOf").n() == 0 || c.doc.at(pProvider).withAttr("classCode", "ORG").n() == 1
	})
	add(e("39"), "", "", "serviceProviderOrganization DEVE avere asOrganizationPartOf.", func(c *ctx) bool {
		return c.doc.at(pLocation).n() == 0 || c.doc.at(pFacility).n() == 0 || c.doc.at(pProvider).n() == 0 ||
			c.doc.at(pProvider+"/asOrganizationPartOf").n() == 1
	})
	oneOfStrutture := func(n *node) bool { return n.is("root", OIDStruttura) || n.is("root", oidStrutture) }
	add("", e("43"), "", "serviceProviderOrganization/id DEVE avere @root 2.16.840.1.113883.2.9.4.1.2 o .1.3.", func(c *ctx) bool {
		return c.doc.at("componentOf").n() == 0 || c.doc.at(pProvider+"/id").where(oneOfStrutture).n() == 1
	})
	add("", "", e("44"), "serviceProviderOrganization/id, se presente, DEVE avere @root 2.16.840.1.113883.2.9.4.1.2 o .1.3.", func(c *ctx) bool {
		ids := c.doc.at(pProvider + "/id")
		return c.doc.at("componentOf").n() == 0 || ids.n() == 0 || ids.where(oneOfStrutture).n() == 1
	})
	add("", "", e("45"), "asOrganizationPartOf/id, se presente, DEVE avere @root='2.16.840.1.113883.2.9.4.1.1'.", func(c *ctx) bool {
		ids := c.doc.at(pProvider + "/asOrganizationPartOf/id")
		return c.doc.at("componentOf").n() == 0 || ids.n() == 0 || ids.withAttr("root", OIDAzienda).n() == 1
	})

	// inFulfillmentOf, participant, documentationOf.
	add(e("40"), "", e("46"), "inFulfillmentOf è obbligatorio.", func(c *ctx) bool { return c.doc.at("inFulfillmentOf").n() >= 1 })
	add(e("50"), "", "", "inFulfillmentOf/order/priorityCode DEVE avere @codeSystem='2.16.840.1.113883.5.7'.", func(c *ctx) bool {
		return every(c.doc.at("inFulfillmentOf"), func(f nodes) bool {
			pc := f.at("order/priorityCode")
			return pc.n() == 0 || pc.withAttr("codeSystem", oidPriority).n() == 1
		})
	})
	add("", e("51"), "", "inFulfillmentOf/order/priorityCode DEVE avere @code S, A, EL o R e @codeSystem='2.16.840.1.113883.5.7'.", func(c *ctx) bool {
		return every(c.doc.at("inFulfillmentOf"), func(f nodes) bool {
			pc := f.at("order/priorityCode")
			codes := pc.where(func(n *node) bool {
				return n.is("code", "S") || n.is("code", "A") || n.is("code", "EL") || n.is("code", "R")
			})
			return pc.n() == 0 || (codes.n() == 1 && pc.withAttr("codeSystem", oidPriority).n() == 1)
		})
	})
	add("", "", e("50"), "inFulfillmentOf/order DEVE avere id.", func(c *ctx) bool {
		return every(c.doc.at("inFulfillmentOf"), func(f nodes) bool { return f.at("order/id").n() == 1 })
	})
	add("", e("45"), "", "Il documento DEVE avere almeno un participant.", func(c *ctx) bool { return c.doc.at("participant").n() >= 1 })
	add3([3]string{e("45"), e("49"), e("48")}, "participant/associatedEntity DEVE avere almeno un id.", func(c *ctx) bool {
		return every(c.doc.at("participant"), func(p nodes) bool { return p.at("associatedEntity/id").n() >= 1 })
	})
	add(e("47"), "", "", "participant/associatedEntity/addr DEVE avere country, city e streetAddressLine.", func(c *ctx) bool {
		return every(c.doc.at("participant"), func(p nodes) bool { return addrOK(p.at("associatedEntity/addr")) })
	})
	add(e("48"), "", "", "participant/associatedEntity/associatedPerson DEVE avere name.", func(c *ctx) bool {
		return every(c.doc.at("participant"), func(p nodes) bool {
			ap := p.at("associatedEntity/associatedPerson")
			return ap.n() == 0 || ap.at("name").n() == 1
		})
	})
	add(e("49"), "", e("49"), "participant/associatedEntity/associatedPerson/name DEVE avere given e family.", func(c *ctx) bool {
		return every(c.doc.at("participant"), func(p nodes) bool {
			ap := p.at("associatedEntity/associatedPerson")
			return ap.n() == 0 || nameOK(ap)
		})
	})
	add("", e("50"), "", "participant/associatedEntity/associatedPerson DEVE avere name, con given e family.", func(c *ctx) bool {
		return every(c.doc.at("participant"), func(p nodes) bool {
			ap := p.at("associatedEntity/associatedPerson")
			return ap.n() == 0 || (ap.at("name").n() == 1 && nameOK(ap))
		})
	})
	add("", e("50a"), "", "participant/associatedEntity DEVE avere scopingOrganization.", func(c *ctx) bool {
		return every(c.doc.at("participant"), func(p nodes) bool { return p.at("associatedEntity/scopingOrganization").n() == 1 })
	})
	add("", e("50b"), "", "scopingOrganization/addr DEVE avere country, city e streetAddressLine.", func(c *ctx) bool {
		return every(c.doc.at("participant"), func(p nodes) bool {
			so := p.at("associatedEntity/scopingOrganization")
			a := so.at("addr")
			return so.n() == 0 || a.n() == 0 || (a.at("country").n() == 1 && a.at("city").n() == 1 && a.at("streetAddressLine").n() == 1)
		})
	})
	seCode := func(d nodes, code string) int { return d.at("serviceEvent/code").withAttr("code", code).n() }
	add(e("51"), "", "", "documentationOf/serviceEvent/code DEVE avere @code PROG o DIR.", func(c *ctx) bool {
		return every(c.doc.at("documentationOf"), func(d nodes) bool {
			return d.at("serviceEvent").n() == 0 || seCode(d, "PROG") == 1 || seCode(d, "DIR") == 1
		})
	})
	add(e("52"), "", "", "documentationOf/serviceEvent/code DEVE avere @codeSystem='2.16.840.1.113883.2.9.5.1.4'.", func(c *ctx) bool {
		return every(c.doc.at("documentationOf"), func(d nodes) bool {
			return d.at("serviceEvent").n() == 0 || d.at("serviceEvent/code").withAttr("codeSystem", OIDServiceEvent).n() == 1
		})
	})
	add("", e("52"), "", "documentationOf/serviceEvent DEVE avere code con @code PROG o DIR.", func(c *ctx) bool {
		return every(c.doc.at("documentationOf"), func(d nodes) bool { return seCode(d, "PROG") == 1 || seCode(d, "DIR") == 1 })
	})
	add("", e("53"), "", "documentationOf/serviceEvent DEVE avere code con @codeSystem='2.16.840.1.113883.2.9.5.1.4'.", func(c *ctx) bool {
		return every(c.doc.at("documentationOf"), func(d nodes) bool {
			return d.at("serviceEvent/code").withAttr("codeSystem", OIDServiceEvent).n() == 1
		})
	})
	add("", e("54"), "", "documentationOf/serviceEvent/performer, se presente, DEVE avere time con low e high.", func(c *ctx) bool {
		return every(c.doc.at("documentationOf"), func(d nodes) bool {
			p := d.at("serviceEvent/performer")
			return p.n() == 0 || (p.at("time/low").n() == 1 && p.at("time/high").n() == 1)
		})
	})
	add("", "", e("47"), "documentationOf/serviceEvent DEVE avere code con @codeSystem='2.16.840.1.113883.2.9.5.1.4'.", func(c *ctx) bool {
		return c.doc.at("documentationOf").n() == 0 ||
			c.doc.at("documentationOf/serviceEvent/code").withAttr("codeSystem", OIDServiceEvent).n() == 1
	})

	// Rules on every element of a kind (the schematrons' //contexts).
	add3([3]string{e("55"), e("55"), e("52")}, "L'indirizzo di un'organizzazione non può avere @use H, HP o HV.", func(c *ctx) bool {
		for _, org := range c.all("*") {
			if !strings.Contains(org.local, "Organization") {
				continue
			}
			for _, a := range (nodes{org}).at("addr") {
				if a.is("use", "H") || a.is("use", "HP") || a.is("use", "HV") {
					return false
				}
			}
		}
		return true
	})
	add3([3]string{e("56"), e("56"), e("53")}, "addr DEVE avere country, city e streetAddressLine.", func(c *ctx) bool {
		exempt := "birthplace"
		if c.kind == Televisita {
			exempt = "patient"
		}
		for _, a := range c.all("addr") {
			if a.hasAncestor(exempt) {
				continue
			}
			an := nodes{a}
			if an.at("country").n() != 1 || an.at("city").n() != 1 || an.at("streetAddressLine").n() != 1 {
				return false
			}
		}
		return true
	})
	add3([3]string{e("57"), e("57"), e("54")}, "telecom DEVE avere @use.", func(c *ctx) bool {
		for _, t := range c.all("telecom") {
			if !t.has("use") {
				return false
			}
		}
		return true
	})
	add3([3]string{e("58"), e("58"), e("55")}, "Il telecom di un'organizzazione non può avere @use H, HP o HV.", func(c *ctx) bool {
		for _, org := range c.all("*") {
			if !strings.Contains(org.local, "Organization") {
				continue
			}
			for _, t := range (nodes{org}).at("telecom") {
				if t.is("use", "H") || t.is("use", "HP") || t.is("use", "HV") {
					return false
				}
			}
		}
		return true
	})
	add3([3]string{e("59"), e("59"), e("56")}, "Il codice fiscale DEVE essere di 16 caratteri [A-Z0-9].", func(c *ctx) bool {
		for _, id := range c.all("id") {
			if !id.is("root", OIDCF) {
				continue
			}
			ext, _ := id.attr("extension")
			if !cfShape.MatchString(ext) {
				return false
			}
		}
		return true
	})
	add3([3]string{e("60"), e("60"), e("57")}, "observation/@classCode DEVE essere OBS.", func(c *ctx) bool {
		for _, o := range c.all("observation") {
			if o.has("classCode") && !o.is("classCode", "OBS") {
				return false
			}
		}
		return true
	})
	add3([3]string{e("61"), e("61"), e("58")}, "observation/@moodCode DEVE essere EVN.", func(c *ctx) bool {
		for _, o := range c.all("observation") {
			if !o.is("moodCode", "EVN") {
				return false
			}
		}
		return true
	})
	// The CTC schematron spells this one's id "Errore 62".
	add3([3]string{e("62"), "Errore 62", e("59")}, "statusCode/@code DEVE essere active, completed, aborted o suspended.", func(c *ctx) bool {
		for _, s := range c.all("statusCode") {
			v, _ := s.attr("code")
			if !slices.Contains([]string{"active", "completed", "aborted", "suspended"}, v) {
				return false
			}
		}
		return true
	})
	add3([3]string{e("63"), e("63"), e("60")}, "Il name di un'organizzazione non deve avere delimiter, prefix o suffix.", func(c *ctx) bool {
		for _, n := range c.all("name") {
			if p := n.parent; p == nil || !(strings.Contains(p.local, "Organization") || n.parentIs("location")) {
				continue
			}
			nn := nodes{n}
			if nn.at("delimiter").n() != 0 || nn.at("prefix").n() != 0 || nn.at("suffix").n() != 0 {
				return false
			}
		}
		return true
	})
	add3([3]string{e("64"), e("64"), e("61")}, "name non deve avere delimiter.", func(c *ctx) bool {
		for _, n := range c.all("name") {
			if (nodes{n}).at("delimiter").n() != 0 {
				return false
			}
		}
		return true
	})
	add3([3]string{e("65"), e("65"), e("62")}, "effectiveTime/high DEVE seguire effectiveTime/low.", func(c *ctx) bool {
		for _, t := range c.all("effectiveTime") {
			tn := nodes{t}
			lows := tn.at("low").attrs("value")
			if len(lows) == 0 {
				continue
			}
			highs := tn.at("high").attrs("value")
			if len(highs) == 0 {
				continue
			}
			low, high := lows[0], highs[0]
			if c.kind == Televisita && high < low || c.kind != Televisita && high <= low {
				return false
			}
		}
		return true
	})
	add3([3]string{e("66"), e("66"), e("63")}, "originalText/reference/@value DEVE essere valorizzato.", func(c *ctx) bool {
		for _, o := range c.all("originalText") {
			refs := nodes{o}.at("reference")
			if refs.n() == 0 {
				continue
			}
			if v := refs.attrs("value"); len(v) == 0 || v[0] == "" {
				return false
			}
		}
		return true
	})
	add3([3]string{e("67"), e("67"), e("64")}, "addr DEVE avere @use.", func(c *ctx) bool {
		for _, a := range c.all("addr") {
			if !a.parentIs("place") && !a.parentIs("scopingOrganization") && !a.has("use") {
				return false
			}
		}
		return true
	})
	entity := func(c *ctx) nodes {
		return c.all("assignedEntity").where(func(n *node) bool { return c.kind == Teleassistenza || !n.hasAncestor("participant") })
	}
	regional := func(n *node) bool { r, _ := n.attr("root"); return regionalRoot(r, ".4.2") }
	add3([3]string{e("68"), e("68"), e("65")}, "assignedEntity DEVE avere un id con il codice fiscale (o l'identificativo regionale .4.2).", func(c *ctx) bool {
		for _, ae := range entity(c) {
			ids := nodes{ae}.at("id")
			cf, reg := ids.withAttr("root", OIDCF).n(), ids.where(regional).n()
			if !(ids.n() == 2 || (cf == 0 && reg == 1) || (cf == 1 && reg == 0)) {
				return false
			}
		}
		return true
	})
	add3([3]string{e("69"), e("69"), e("66")}, "Due id di assignedEntity DEVONO essere il codice fiscale e l'identificativo regionale .4.2.", func(c *ctx) bool {
		for _, ae := range entity(c) {
			ids := nodes{ae}.at("id")
			if !(ids.n() == 1 || (ids.n() == 2 && ids.withAttr("root", OIDCF).n() == 1 && ids.where(regional).n() == 1)) {
				return false
			}
		}
		return true
	})
	add("", "", e("67"), "assignedEntity/addr DEVE avere country, city e streetAddressLine.", func(c *ctx) bool {
		for _, ae := range entity(c) {
			a := nodes{ae}.at("addr")
			if a.n() != 0 && (a.at("country").n() != 1 || a.at("city").n() != 1 || a.at("streetAddressLine").n() != 1) {
				return false
			}
		}
		return true
	})

	// Body: the structuredBody.
	body := func(f func(c *ctx) bool) func(c *ctx) bool {
		// The rules of the structuredBody's context judge nothing when the
		// document has none.
		return func(c *ctx) bool { return c.doc.at("component/structuredBody").n() == 0 || f(c) }
	}
	// Quesito diagnostico: optional in the televisit, required otherwise.
	add("", e("b1"), e("b1"), "Sezione Quesito Diagnostico: la sezione DEVE essere presente.", body(func(c *ctx) bool { return c.secCode(secQuesito) == 1 }))
	add(e("b10"), e("b2"), e("b2"), "Sezione Quesito Diagnostico: il templateId DEVE avere @root='"+tplQuesito+"'.", body(func(c *ctx) bool {
		return c.templateOK(secQuesito, tplQuesito)
	}))
	add(e("b11"), e("b3"), e("b3"), "Sezione Quesito Diagnostico: la sezione DEVE avere text.", body(func(c *ctx) bool { return c.textOK(secQuesito) }))
	add(e("b12"), e("b4"), e("b4"), "Sezione Quesito Diagnostico: al più una entry.", body(func(c *ctx) bool {
		s := c.sec(secQuesito)
		return s.n() == 0 || s.at("entry").n() <= 1
	}))
	add(e("b13"), e("b5"), e("b5"), "Sezione Quesito Diagnostico: entry/observation/code DEVE avere @code='29298-7' (LOINC).", body(func(c *ctx) bool {
		s := c.sec(secQuesito)
		return s.n() == 0 || s.at("entry").n() == 0 || s.at("entry/observation/code").withAttr("code", "29298-7").withAttr("codeSystem", OIDLOINC).n() == 1
	}))
	add(e("b14"), e("b6"), e("b6"), "Sezione Quesito Diagnostico: entry/observation/value DEVE essere CD in ICD-9-CM.", body(func(c *ctx) bool {
		s := c.sec(secQuesito)
		return s.n() == 0 || s.at("entry").n() == 0 || s.at("entry/observation/value").where(func(n *node) bool {
			t, _ := n.xsiType()
			return t == "CD" && n.is("codeSystem", oidICD9CM)
		}).n() == 1
	}))
	// Prestazioni.
	add(e("b1"), e("b7"), e("b7"), "Sezione Prestazioni: la sezione DEVE essere presente.", body(func(c *ctx) bool { return c.secCode(secPrestazioni) == 1 }))
	add(e("b2"), e("b8"), e("b8"), "Sezione Prestazioni: il templateId DEVE avere @root='"+tplPrestazioni+"'.", body(func(c *ctx) bool {
		return c.templateOK(secPrestazioni, tplPrestazioni)
	}))
	add(e("b3"), e("b9"), e("b9"), "Sezione Prestazioni: la sezione DEVE avere text.", body(func(c *ctx) bool {
		return c.secCode(secPrestazioni) == 0 || c.sec(secPrestazioni).at("text").n() == 1
	}))
	add(e("b4"), "", e("b10"), "Sezione Prestazioni: la sezione DEVE avere almeno due entry.", body(func(c *ctx) bool {
		return c.secCode(secPrestazioni) == 0 || c.sec(secPrestazioni).at("entry").n() >= 2
	}))
	add("", e("b10"), "", "Sezione Prestazioni: la sezione DEVE avere almeno una entry.", body(func(c *ctx) bool {
		return c.secCode(secPrestazioni) == 0 || c.sec(secPrestazioni).at("entry").n() >= 1
	}))
	add(e("b5"), "", e("b11"), "Sezione Prestazioni: la sezione DEVE avere una entry/observationMedia.", body(func(c *ctx) bool {
		return c.secCode(secPrestazioni) == 0 || c.sec(secPrestazioni).at("entry/observationMedia").n() == 1
	}))
	add("", e("b11"), "", "Sezione Prestazioni: al più una entry/observationMedia.", body(func(c *ctx) bool {
		return c.secCode(secPrestazioni) == 0 || c.sec(secPrestazioni).at("entry/observationMedia").n() <= 1
	}))
	add(e("b6"), e("b12"), "", "Sezione Prestazioni: observationMedia/value DEVE avere @representation='B64'.", body(func(c *ctx) bool {
		m := c.sec(secPrestazioni).at("entry/observationMedia")
		return c.secCode(secPrestazioni) == 0 || m.n() == 0 || m.at("value").withAttr("representation", "B64").n() == 1
	}))
	add("", "", e("b12"), "Sezione Prestazioni: observationMedia/value DEVE avere @representation='B64'.", body(func(c *ctx) bool {
		return c.secCode(secPrestazioni) == 0 || c.sec(secPrestazioni).at("entry/observationMedia/value").withAttr("representation", "B64").n() == 1
	}))
	// Referto.
	add(e("b7"), e("b13"), e("b13"), "Sezione Referto: la sezione DEVE essere presente.", body(func(c *ctx) bool { return c.secCode(secReferto) == 1 }))
	add(e("b8"), e("b14"), e("b14"), "Sezione Referto: il templateId DEVE avere @root='"+tplReferto+"'.", body(func(c *ctx) bool {
		return c.templateOK(secReferto, tplReferto)
	}))
	add(e("b9"), "", "", "Sezione Referto: la sezione DEVE avere text.", body(func(c *ctx) bool { return c.sec(secReferto).at("text").n() == 1 }))
	add("", e("b15"), e("b15"), "Sezione Referto: la sezione DEVE avere text.", body(func(c *ctx) bool { return c.textOK(secReferto) }))
	// The optional sections.
	for _, o := range optionalSections {
		add(e(o.tvTpl), e(o.ctaTpl), e(o.ctaTpl), "Sezione "+o.name+": il templateId DEVE avere @root='"+o.tpl+"'.", body(func(c *ctx) bool {
			return c.templateOK(o.code, o.tpl)
		}))
		add(e(o.tvText), e(o.ctaText), e(o.ctaText), "Sezione "+o.name+": la sezione DEVE avere text.", body(func(c *ctx) bool { return c.textOK(o.code) }))
	}
	add(e("b41"), e("b42"), e("b42"), "Il codice della sezione non è tra quelli ammessi dal documento.", func(c *ctx) bool {
		return every(c.sections(), func(s nodes) bool {
			code := s.at("code").withAttr("codeSystem", OIDLOINC)
			for _, sc := range sectionCodes {
				if code.withAttr("code", sc).n() == 1 {
					return true
				}
			}
			return false
		})
	})
	add(e("b42"), e("b43"), e("b43"), "Il codice della sotto-sezione non è tra quelli ammessi (48765-2, 10160-0).", func(c *ctx) bool {
		return every(c.sections().at("component/section"), func(s nodes) bool {
			code := s.at("code").withAttr("codeSystem", OIDLOINC)
			return code.withAttr("code", "48765-2").n() == 1 || code.withAttr("code", "10160-0").n() == 1
		})
	})
	// The Prestazioni section's acts.
	add(e("b120"), e("b125"), e("b123"), "Sezione Prestazioni: entry/act DEVE avere @classCode='ACT' e @moodCode='EVN'.", func(c *ctx) bool {
		return every(c.prestazioniActs(), func(a nodes) bool { return a[0].is("classCode", "ACT") && a[0].is("moodCode", "EVN") })
	})
	add(e("b121"), e("b126"), e("b124"), "Sezione Prestazioni: entry/act DEVE avere effectiveTime con @value.", func(c *ctx) bool {
		return every(c.prestazioniActs(), func(a nodes) bool { return len(a.at("effectiveTime").attrs("value")) == 1 })
	})
	add(e("b122"), e("b127"), e("b125"), "Sezione Prestazioni: entry/act DEVE avere l'observation della branca specialistica (templateId "+tplBranca+").", func(c *ctx) bool {
		return every(c.prestazioniActs(), func(a nodes) bool {
			return a.at("entryRelationship/observation/templateId").withAttr("root", tplBranca).n() >= 1
		})
	})
	add(e("b123"), e("b128"), e("b126"), "Sezione Prestazioni: entry/act DEVE avere l'observation della disciplina (templateId "+tplDisciplina+").", func(c *ctx) bool {
		return every(c.prestazioniActs(), func(a nodes) bool {
			return a.at("entryRelationship/observation/templateId").withAttr("root", tplDisciplina).n() >= 1
		})
	})
	add(e("b124"), e("b129"), e("b127"), "Sezione Prestazioni: entry/act/entryRelationship DEVE contenere procedure, substanceAdministration, observation o act.", func(c *ctx) bool {
		return every(c.prestazioniActs().at("entryRelationship"), func(r nodes) bool {
			return r.at("procedure").n() == 1 || r.at("substanceAdministration").n() == 1 || r.at("observation").n() == 1 || r.at("act").n() == 1
		})
	})
	// An observation of a performed service other than its branca and
	// disciplina carries a note (Nota Prestazioni Tele).
	other := func(r nodes) nodes {
		return r.at("observation").where(func(n *node) bool {
			return nodes{n}.at("templateId").where(func(t *node) bool { return t.is("root", tplBranca) || t.is("root", tplDisciplina) }).n() == 0
		})
	}
	add(e("b127"), e("b132"), e("b130"), "Sezione Prestazioni: observation/entryRelationship/act (Nota Prestazioni Tele) DEVE avere code 48767-8 (LOINC).", func(c *ctx) bool {
		return every(c.prestazioniActs().at("entryRelationship"), func(r nodes) bool {
			o := other(r)
			return o.n() == 0 || o.at("entryRelationship/act/code").withAttr("code", "48767-8").withAttr("codeSystem", OIDLOINC).n() == 1
		})
	})
	add(e("b128"), e("b133"), e("b131"), "Sezione Prestazioni: observation/entryRelationship/act (Nota Prestazioni Tele) DEVE avere text.", func(c *ctx) bool {
		return every(c.prestazioniActs().at("entryRelationship"), func(r nodes) bool {
			o := other(r)
			return o.n() == 0 || o.at("entryRelationship/act/text").n() == 1
		})
	})
	return rs
}
