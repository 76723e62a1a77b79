package schematron

import (
	"os"
	"path/filepath"
	"testing"
)

const samples = "../../../../shared/samples/fse-it/cda"

func TestEverySchemaCompiles(t *testing.T) {
	for _, s := range schemas {
		t.Run(s.Name, func(t *testing.T) {
			if _, err := s.compile(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNationalSamplesPass(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(samples, "*.xml"))
	if len(files) == 0 {
		t.Skipf("the national samples are not at %s", samples)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			doc, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			s, fails, err := Check(doc)
			if err != nil {
				t.Fatal(err)
			}
			if len(fails) != 0 {
				t.Fatalf("%s: %v", s.Name, fails)
			}
		})
	}
}

func BenchmarkValidateSamples(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join(samples, "*.xml"))
	if len(files) == 0 {
		b.Skipf("the national samples are not at %s", samples)
	}
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Base(f), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if _, fails, err := Check(doc); err != nil || len(fails) > 0 {
					b.Fatal(err, fails)
				}
			}
		})
	}
}
