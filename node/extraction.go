package node

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fsenet/fsenet/repository/extract"
	"github.com/fsenet/fsenet/repository/facts"
	"github.com/fsenet/fsenet/repository/reposvc"
)

// extractDocument derives the structured data of a document by its
// format: a CDA (also one a PDF carries, which the repository takes out
// first) or a FHIR document Bundle.
func extractDocument(content []byte, mime string) (facts.Extraction, error) {
	var ex facts.Extraction
	var err error
	switch mt, _, _ := strings.Cut(strings.ToLower(mime), ";"); strings.TrimSpace(mt) {
	case "text/xml", "application/xml", "application/hl7-v3+xml", "application/hl7-cda+xml":
		ex, err = extract.CDA(content)
	case "application/fhir+json", "application/json":
		ex, err = extract.FHIR(content)
	default:
		return ex, fmt.Errorf("%w: documents of type %s carry no structured data", reposvc.ErrUnsupported, mime)
	}
	if errors.Is(err, extract.ErrUnsupported) {
		err = fmt.Errorf("%w: %w", reposvc.ErrUnsupported, err)
	}
	return ex, err
}

// extractVersion is the extraction's version (reposvc.Deps.ExtractVersion).
const extractVersion = extract.Version
