package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/fsenet/fsenet/repository/population"
)

const querySummary = "Ask every region a population question (the JSON form of the README's\n\"Population questions\", read from FILE, or from stdin with \"-\") and print\nthe regions' answers added up, one row per group. Only aggregates leave a\nregion; a cell below a region's k is suppressed there (\"suppressed\"), and a\ncell some regions suppressed names them. Needs a token of the national\nauthority. Exit status 1 when a region did not answer (the rows are printed)."

// queryResult is the node's answer to a question.
type queryResult struct {
	Key      string              `json:"key"`
	Question population.Question `json:"question"`
	Result   population.Combined `json:"result"`
}

// queryCmd sends a population question and prints the merged answer.
func queryCmd(ctx context.Context, a *app, args []string) error {
	var body []byte
	var err error
	if args[0] == "-" {
		body, err = io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	} else {
		body, err = os.ReadFile(args[0])
	}
	if err != nil {
		return fmt.Errorf("reading the question: %w", err)
	}
	// The node decodes it strictly too; this only saves a round trip.
	if _, err := population.Decode(body); err != nil {
		return fmt.Errorf("the question: %w", err)
	}
	var res queryResult
	raw, err := a.client.callJSON(ctx, http.MethodPost, "/v1/population/query", "application/json", body, &res)
	if err != nil {
		return err
	}
	if a.opts.json {
		if err := printJSON(a.stdout, raw); err != nil {
			return err
		}
	} else {
		printCombined(a, res)
	}
	if len(res.Result.Failed) > 0 {
		var names []string
		for _, f := range res.Result.Failed {
			names = append(names, clean(f.Region)+" ("+clean(f.Error)+")")
		}
		return errors.New("partial answer: no answer from " + strings.Join(names, ", "))
	}
	return nil
}

func printCombined(a *app, res queryResult) {
	c := res.Result
	fmt.Fprintf(a.stdout, "question %s: %s, answered by %d regions (%s)\n", clean(res.Key), clean(string(c.Measure)), len(c.Answered), clean(strings.Join(c.Answered, " ")))
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	var head []string
	for _, g := range c.GroupBy {
		head = append(head, strings.ToUpper(string(g)))
	}
	head = append(head, strings.ToUpper(string(c.Measure)), "NOTE")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, cl := range c.Cells {
		row := make([]string, 0, len(cl.Group)+2)
		for _, g := range cl.Group {
			row = append(row, cell(g))
		}
		value := ""
		switch {
		case cl.Suppressed:
			value = "suppressed"
		case c.Measure == population.Count:
			value = fmt.Sprint(cl.Count)
		case c.Measure == population.Patients:
			value = fmt.Sprint(cl.Patients)
		case c.Measure == population.Sum:
			value = fmt.Sprintf("%g (of %d; mean %.4g)", cl.Sum, cl.Count, cl.Sum/float64(max(cl.Count, 1)))
		case c.Measure == population.Histogram:
			value = fmt.Sprint(cl.Histogram)
		}
		note := ""
		if len(cl.Incomplete) > 0 {
			note = "suppressed by " + strings.Join(cl.Incomplete, " ")
		}
		row = append(row, value, clean(note))
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
}
