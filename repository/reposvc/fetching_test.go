package reposvc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fsenet/fsenet/repository/fetch"
)

// A region's fetches take at most its share of the node's slots: with
// one region's share held, the others' documents are still fetched, and
// a fetch that finds the node's slots all taken holds no slot of its
// region while it waits.
func TestFetchSlotsShareByRegion(t *testing.T) {
	s := newFetchSlots(4, 2)
	ctx := context.Background()
	full, cancel := context.WithCancel(ctx)
	cancel() // a wait that ends at once: only a free slot is taken
	take := func(c context.Context, region string) (func(), error) {
		t.Helper()
		return s.take(c, region)
	}
	var held []func()
	for range 2 {
		release, err := take(ctx, "030")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, release)
	}
	_, err := take(full, "030")
	if !errors.Is(err, fetch.ErrBusy) || !strings.Contains(err.Error(), "region 030") {
		t.Fatalf("a third fetch from 030 with its share held: %v, want ErrBusy naming the region", err)
	}
	for range 2 {
		release, err := take(ctx, "150")
		if err != nil {
			t.Fatalf("Campania's fetch with Lombardia's share held: %v", err)
		}
		held = append(held, release)
	}
	// Its region's slot is free and taken; the node's are not, and the
	// wait for one ends with its context.
	soon, cancelSoon := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelSoon()
	_, err = take(soon, "160")
	if !errors.Is(err, fetch.ErrBusy) || !strings.Contains(err.Error(), "all 4 fetch slots") {
		t.Fatalf("a fetch with every slot of the node held: %v, want ErrBusy naming the node's slots", err)
	}
	if n := len(s.of("160")); n != 0 {
		t.Fatalf("a fetch that found no slot of the node holds %d of its region's", n)
	}
	held[0]()
	held[0]() // once only
	if n := len(s.all); n != 3 {
		t.Fatalf("%d slots held after one release (twice), want 3", n)
	}
	if _, err := take(ctx, "160"); err != nil {
		t.Fatalf("a slot given back is not taken: %v", err)
	}
}

func TestPerRegionDefault(t *testing.T) {
	for all, want := range map[int]int{1: 1, 3: 1, 4: 1, 8: 2, 64: 16, 4096: 1024} {
		if got := perRegionDefault(all); got != want {
			t.Errorf("perRegionDefault(%d) = %d, want %d", all, got, want)
		}
	}
}

// Each way a fetch ends is counted under its outcome.
func TestOutcome(t *testing.T) {
	live := context.Background()
	gone, cancel := context.WithCancel(live)
	cancel()
	late, cancel2 := context.WithDeadline(live, time.Now().Add(-time.Hour))
	defer cancel2()
	for _, tc := range []struct {
		ctx  context.Context
		err  error
		want string
	}{
		{live, fmt.Errorf("%w: 3 bytes", fetch.ErrMismatch), outcomeMismatch},
		{live, &fetch.Refusal{Code: fetch.CodeNotFound}, outcomeRefused},
		{live, &fetch.Refusal{Code: fetch.CodeBusy}, outcomeRefused},
		{live, fmt.Errorf("%w: no answer within 5s", fetch.ErrNoAnswer), outcomeTimeout},
		{live, fmt.Errorf("fetch: transfer cut: %w", fmt.Errorf("%w: nothing more", fetch.ErrNoAnswer)), outcomeTimeout},
		{late, fmt.Errorf("fetch: %w", context.DeadlineExceeded), outcomeTimeout},
		{late, errors.New("fetch: transfer cut: stream reset"), outcomeTimeout},
		{late, fmt.Errorf("%w: all 16 fetches from region 030 stayed in flight", fetch.ErrBusy), outcomeBusy},
		{live, fmt.Errorf("%w: all 64 fetch slots stayed busy", fetch.ErrBusy), outcomeBusy},
		{gone, fmt.Errorf("%w: all 64 fetch slots stayed busy", fetch.ErrBusy), outcomeCanceled},
		{gone, errors.New("fetch: transfer cut: stream reset"), outcomeCanceled},
		{live, errors.New("fetch: open a stream: dial backoff"), outcomeFailed},
		{live, fmt.Errorf("%w: header", fetch.ErrProtocol), outcomeFailed},
	} {
		if got := outcome(tc.ctx, tc.err); got != tc.want {
			t.Errorf("outcome(%v, %v) = %s, want %s", tc.ctx.Err(), tc.err, got, tc.want)
		}
	}
}

func TestConfigValidateFetchLimits(t *testing.T) {
	base := Config{Region: "030", Dir: "/tmp/x", MaxFetches: 8}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string // in the error; "" none
	}{
		{"defaults", func(*Config) {}, ""},
		{"a share of all", func(c *Config) { c.MaxFetchesPerRegion = 8 }, ""},
		{"a share over all", func(c *Config) { c.MaxFetchesPerRegion = 9 }, "max fetches per region 9"},
		{"a negative share", func(c *Config) { c.MaxFetchesPerRegion = -1 }, "max fetches per region -1"},
		{"a negative first-byte limit", func(c *Config) { c.FetchFirstByte = -time.Second }, "first-byte"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.change(&c)
			err := c.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}
