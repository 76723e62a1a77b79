package doctype

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		loinc string
		class Class
		ok    bool
	}{
		{"11502-2", REF, true},
		{"34105-7", LDO, true},
		{"60591-5", SUM, true},
		{"59258-4", VRB, true},
		{"57833-6", PRS, true},
		{"75496-0", REF, true},
		{"85208-7", REF, true},
		{"11502-2", LDO, false}, // a lab report is not a discharge letter
		{"60591-5", REF, false},
		{"12345-6", REF, false}, // not an FSE type
		{"", REF, false},
	}
	for _, tt := range tests {
		t.Run(tt.loinc+"/"+string(tt.class), func(t *testing.T) {
			if err := Check(tt.loinc, tt.class); tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if !ValidClass(REF) || ValidClass("XYZ") {
		t.Fatal("ValidClass")
	}
	if len(All()) != len(table) || All()[0].LOINC > All()[1].LOINC {
		t.Fatal("All")
	}
}

// The table agrees with the reference's, row by row
// (../shared/FSE-REFERENCE.md, not part of the repository).
func TestTableMatchesReference(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "FSE-REFERENCE.md")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("reference not available: %v", err)
	}
	defer f.Close()
	rows := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) != 5 {
			continue
		}
		code, class := strings.TrimSpace(cells[1]), Class(strings.TrimSpace(cells[3]))
		if code == "LOINC" || strings.HasPrefix(code, "---") {
			continue
		}
		rows++
		if err := Check(code, class); err != nil {
			t.Errorf("reference row %s → %s: %v", code, class, err)
		}
	}
	national := 0
	for _, tt := range table {
		if tt.Guide == "" {
			national++
		}
	}
	if rows != national {
		t.Fatalf("the reference lists %d types, the table %d national ones", rows, national)
	}
}
