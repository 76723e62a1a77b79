package gateway

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/synth"
)

// BenchmarkPublish measures the gateway's publication path in one
// process on a one-voter replica (no replication): 64 concurrent
// publications of ~17 KiB PDFs (CDA ~146 KB), validated beforehand. With
// -cpuprofile it shows where a publication's CPU goes.
//
//	go test ./repository/gateway -run '^$' -bench Publish -benchtime 2000x -cpuprofile /tmp/gw.prof
func BenchmarkPublish(b *testing.B) {
	e := newEnvTB(b)
	e.clock = time.Time{} // the real clock: the run outlasts the tokens' skew
	docs := make([][]byte, b.N)
	for i := range b.N {
		d := labDoc(fmt.Sprintf("bench-%d", i))
		d.Padding = 140 << 10
		pdf, err := synth.PDF(d)
		if err != nil {
			b.Fatal(err)
		}
		docs[i] = pdf
		e.validate(pdf)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	b.ResetTimer()
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				resp, body := e.do(call{method: http.MethodPost, path: "/v1/documents", body: pubBody(fmt.Sprintf("bench-%d", i), "REF"), pdf: docs[i]})
				if resp.StatusCode != http.StatusCreated {
					b.Errorf("publication %d: %d %s", i, resp.StatusCode, body)
				}
			}
		}()
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
}
