package index

import (
	"encoding/binary"
	"strings"

	"github.com/fsenet/fsenet/consensus"
	"github.com/fsenet/fsenet/federation"
	"github.com/fsenet/fsenet/index/doctype"
)

// Feeding statistics (the tassi di alimentazione of FSE): how fully each
// region feeds the index. They are counters kept by the state machine as
// it applies, so the authority reads them without scanning the index.
//
//	ix/s/d/<custodian>/<YYYY-MM>/<LOINC>  versions indexed that month
//	ix/s/p/<custodian>\x00<patient>       marker: the patient has a document of the region
//	ix/s/s/<custodian>\x00<patient>       marker: ... and a patient summary
//	ix/s/np/<custodian>, ix/s/ns/<custodian>  the markers' counts

func counterAdd(tx *consensus.Tx, k []byte, delta int64) error {
	var n uint64
	if b, ok, err := tx.Get(k); err != nil {
		return err
	} else if ok && len(b) == 8 {
		n = binary.BigEndian.Uint64(b)
	}
	n = uint64(int64(n) + delta)
	tx.Set(k, binary.BigEndian.AppendUint64(nil, n))
	return nil
}

func markerKey(kind, region, patient string) []byte {
	return append([]byte("ix/s/"+kind+"/"+region+"\x00"), patient...)
}

// countPublish updates the statistics for a new version.
func countPublish(tx *consensus.Tx, e *Entry) error {
	month := e.Indexed.UTC().Format("2006-01")
	if err := counterAdd(tx, []byte("ix/s/d/"+e.Custodian+"/"+month+"/"+e.Type), 1); err != nil {
		return err
	}
	if err := mark(tx, "p", e.Custodian, e.Patient); err != nil {
		return err
	}
	if e.Type == doctype.PatientSummary {
		return mark(tx, "s", e.Custodian, e.Patient)
	}
	return nil
}

// mark sets a patient marker and counts it once.
func mark(tx *consensus.Tx, kind, region, patient string) error {
	k := markerKey(kind, region, patient)
	if _, ok, err := tx.Get(k); err != nil || ok {
		return err
	}
	tx.Set(k, nil)
	return counterAdd(tx, []byte("ix/s/n"+kind+"/"+region), 1)
}

// moveMarkers gives the survivor of a merge the merged patient's markers;
// a region that had both counts the person once. It looks up each region's
// marker directly: there are few regions and many patients.
func moveMarkers(tx *consensus.Tx, from, to string) error {
	for _, kind := range []string{"p", "s"} {
		for region := range federation.RegionNames {
			if _, ok, err := tx.Get(markerKey(kind, region, from)); err != nil {
				return err
			} else if !ok {
				continue
			}
			tx.Delete(markerKey(kind, region, from))
			if err := counterAdd(tx, []byte("ix/s/n"+kind+"/"+region), -1); err != nil {
				return err
			}
			if err := mark(tx, kind, region, to); err != nil {
				return err
			}
		}
	}
	return nil
}

// Feeding is one region's statistics.
type Feeding struct {
	Region              string                    `json:"region"`
	Documents           map[string]map[string]int `json:"documents"` // month -> LOINC -> versions indexed
	PatientsWithDocs    int                       `json:"patients_with_documents"`
	PatientsWithSummary int                       `json:"patients_with_summary"`
	SummaryShare        float64                   `json:"summary_share"` // with summary / with documents
}

// FeedingOf reads a region's statistics; months limits them to
// [from, to] (YYYY-MM, inclusive; empty: open).
func FeedingOf(r Reader, region, from, to string) (Feeding, error) {
	f := Feeding{Region: region, Documents: map[string]map[string]int{}}
	prefix := []byte("ix/s/d/" + region + "/")
	err := r.Iterate(prefix, func(k, v []byte) error {
		month, loinc, ok := strings.Cut(string(k[len(prefix):]), "/")
		if !ok || len(v) != 8 || (from != "" && month < from) || (to != "" && month > to) {
			return nil
		}
		if f.Documents[month] == nil {
			f.Documents[month] = map[string]int{}
		}
		f.Documents[month][loinc] = int(binary.BigEndian.Uint64(v))
		return nil
	})
	if err != nil {
		return f, err
	}
	read := func(kind string) (int, error) {
		b, ok, err := r.Get([]byte("ix/s/n" + kind + "/" + region))
		if err != nil || !ok || len(b) != 8 {
			return 0, err
		}
		return int(binary.BigEndian.Uint64(b)), nil
	}
	if f.PatientsWithDocs, err = read("p"); err != nil {
		return f, err
	}
	if f.PatientsWithSummary, err = read("s"); err != nil {
		return f, err
	}
	if f.PatientsWithDocs > 0 {
		f.SummaryShare = float64(f.PatientsWithSummary) / float64(f.PatientsWithDocs)
	}
	return f, nil
}
