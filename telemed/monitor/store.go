package monitor

// Key layout (one badger database at the patient's home node, fsynced on
// every commit):
//
//	p/<plan id>                                  -> Plan (JSON)
//	pp/<patient>                                 -> plan id: the patient's active plan
//	r/<patient>\x00<code>\x00<time>\x00<device>  -> value (float64 bits): a reading; time is
//	                                                8 bytes of big-endian Unix nanoseconds, so a
//	                                                series is read in time order
//	ri/<patient>\x00<device>\x00<identifier>     -> the reading's key: a device's own id of it
//	d/<patient>\x00<code>\x00<yyyymmdd>          -> day (count, sum, min, max): the daily aggregate
//	s/<plan>\x00<code>                           -> run: consecutive readings beyond a threshold
//	o/<sequence>                                 -> Alert (JSON): raised, not yet delivered
//
// A reading is the same reading when its (patient, code, time, device) or
// its device's identifier of it was seen before: a resend is dropped, so
// the aggregates and the threshold runs count each reading once.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	_ "time/tzdata" // Europe/Rome wherever the node runs
)

// Errors of the store.
var (
	ErrInvalid  = errors.New("invalid")
	ErrNotFound = errors.New("not found")
	ErrNoPlan   = errors.New("no active telemonitoring plan")
	ErrState    = errors.New("not in a state that allows it")
)

// Reading is one measurement, normalised to its vital's unit.
type Reading struct {
	Patient    string    `json:"patient"` // registry id, e.g. CF:RSSMRA80A01H501U
	Device     string    `json:"device"`
	Code       string    `json:"code"` // LOINC; a blood pressure panel is stored as its components
	Value      float64   `json:"value"`
	Time       time.Time `json:"time"`
	Identifier string    `json:"identifier,omitempty"` // the device's own id of the reading
	// Entry is the request entry it was read from (not kept).
	Entry int `json:"-"`
}

// Threshold is the plan's alarm rule for one parameter: below Low or
// above High (either may be absent) for Sustained consecutive readings
// (at least 1).
type Threshold struct {
	Low       *float64 `json:"low,omitempty"`
	High      *float64 `json:"high,omitempty"`
	Sustained int      `json:"sustained,omitempty"`
}

// Plan is what ingestion checks readings against: the patient's devices
// and the thresholds of each parameter measured.
type Plan struct {
	ID         string               `json:"id"`
	Patient    string               `json:"patient"`
	Devices    []string             `json:"devices"`
	Thresholds map[string]Threshold `json:"thresholds"` // by LOINC code: the parameters measured
	Start      time.Time            `json:"start"`
	End        time.Time            `json:"end,omitzero"`
	Active     bool                 `json:"active"`

	Template        string `json:"template,omitempty"`
	TemplateVersion int    `json:"template_version,omitempty"`
	// Tipo is I (periodic review) or II (automatic alerts).
	Tipo string `json:"tipo,omitempty"`
	// Team is the care team alerts go to, in its region: the first
	// member, then the second when the first does not acknowledge.
	Team      Team   `json:"team"`
	Author    string `json:"author,omitempty"` // the enrolling clinician (subject)
	ClientKey string `json:"client_key,omitempty"`
	// Every is how often each parameter is to be measured (0: no
	// expectation); a parameter without a reading for Every and half again
	// raises a "missing" alert.
	Every time.Duration `json:"every,omitempty"`
	// MovedTo names the region the plan moved to with its patient (on
	// the inactive plan left at the old home).
	MovedTo string `json:"moved_to,omitempty"`
	// Kit is the plan's devices registered at delivery, in order.
	Kit []Device `json:"kit,omitempty"`
	// Closed is how the plan ended (nil while it runs).
	Closed *Closure `json:"closed,omitempty"`
}

// Team is a plan's care team.
type Team struct {
	Region  string   `json:"region"`
	Members []string `json:"members"` // subjects (codici fiscali), in the order alerts escalate
}

// Alert is a breach of a plan's threshold, kept until delivered.
type Alert struct {
	Seq     uint64    `json:"seq"`
	Home    string    `json:"home,omitempty"` // the region that raised it (the patient's home)
	Team    Team      `json:"team"`
	Plan    string    `json:"plan"`
	Patient string    `json:"patient"`
	Code    string    `json:"code"`
	Kind    string    `json:"kind"` // high, low, missing
	Value   float64   `json:"value"`
	Time    time.Time `json:"time"` // the reading that completed the run
	Raised  time.Time `json:"raised"`
}

// Store is the measurements kept at a home node.
type Store struct {
	db  *badger.DB
	seq *badger.Sequence
	log *slog.Logger
	now func() time.Time
}

// Open opens (or creates) the store in dir.
func Open(dir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	o := badger.DefaultOptions(dir).WithLogger(nil).WithSyncWrites(true).WithMetricsEnabled(false).
		WithMemTableSize(32 << 20).WithBlockCacheSize(32 << 20).
		// Each compactor wakes every 50 ms even when idle: two, the minimum.
		WithNumCompactors(2)
	db, err := badger.Open(o)
	if err != nil {
		return nil, fmt.Errorf("open the telemonitoring store %s: %w", dir, err)
	}
	seq, err := db.GetSequence([]byte("seq/alerts"), 64)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, seq: seq, log: log, now: time.Now}, nil
}

// Backup writes a consistent copy of the whole store to w, in badger's
// backup format (what a restore loads).
func (s *Store) Backup(w io.Writer) error {
	_, err := s.db.Backup(w, 0)
	return err
}

// Close closes the store.
func (s *Store) Close() error {
	return errors.Join(s.seq.Release(), s.db.Close())
}

func planKey(id string) []byte             { return []byte("p/" + id) }
func patientPlanKey(patient string) []byte { return []byte("pp/" + patient) }

func seriesPrefix(patient, code string) []byte {
	return []byte("r/" + patient + "\x00" + code + "\x00")
}

func readingKey(r Reading) []byte {
	k := seriesPrefix(r.Patient, r.Code)
	k = binary.BigEndian.AppendUint64(k, uint64(r.Time.UnixNano()))
	return append(append(k, 0), r.Device...)
}

// Days are Italian calendar days (Europe/Rome), as clinicians read them.
var rome = func() *time.Location {
	l, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		panic(err) // time/tzdata is embedded
	}
	return l
}()

func dayKey(patient, code string, t time.Time) []byte {
	return []byte("d/" + patient + "\x00" + code + "\x00" + t.In(rome).Format("20060102"))
}

// PutPlan records a plan; an active plan becomes its patient's.
func (s *Store) PutPlan(p Plan) error {
	if err := validPlan(p); err != nil {
		return err
	}
	return s.db.Update(func(tx *badger.Txn) error {
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if err := tx.Set(planKey(p.ID), b); err != nil {
			return err
		}
		if p.Active {
			return tx.Set(patientPlanKey(p.Patient), []byte(p.ID))
		}
		return nil
	})
}

// Enrol records a new active plan for its patient. A retry with the same
// author and client key answers the first (dup); a patient with another
// active plan is ErrState.
func (s *Store) Enrol(p Plan) (out Plan, dup bool, err error) {
	if err := validPlan(p); err != nil {
		return out, false, err
	}
	ck := []byte("pk/" + p.Author + "\x00" + p.ClientKey)
	err = s.retry(func(tx *badger.Txn) error {
		if it, err := tx.Get(ck); err == nil {
			id, err := it.ValueCopy(nil)
			if err != nil {
				return err
			}
			out, err = getPlan(tx, string(id))
			if err == nil && out.Patient != p.Patient {
				err = fmt.Errorf("%w: the client key was used for another patient's plan", ErrState)
			}
			dup = err == nil
			return err
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if cur, err := activePlan(tx, p.Patient); err == nil {
			return fmt.Errorf("%w: the patient is monitored under plan %s already", ErrState, cur.ID)
		} else if !errors.Is(err, ErrNoPlan) {
			return err
		}
		out = p
		out.Active = true
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		for k, v := range map[string][]byte{string(planKey(p.ID)): b, string(patientPlanKey(p.Patient)): []byte(p.ID), string(ck): []byte(p.ID)} {
			if err := tx.Set([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	return out, dup, err
}

// Plan reads a plan.
func (s *Store) Plan(id string) (Plan, error) {
	var p Plan
	err := s.db.View(func(tx *badger.Txn) error {
		var err error
		p, err = getPlan(tx, id)
		return err
	})
	return p, err
}

func getPlan(tx *badger.Txn, id string) (Plan, error) {
	var p Plan
	it, err := tx.Get(planKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, err
	}
	return p, it.Value(func(b []byte) error { return json.Unmarshal(b, &p) })
}

func (s *Store) retry(fn func(tx *badger.Txn) error) error {
	for attempt := 0; ; attempt++ {
		err := s.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) || attempt == 20 {
			return err
		}
	}
}

func validPlan(p Plan) error {
	switch {
	case p.ID == "" || p.Patient == "" || len(p.Devices) == 0 || len(p.Thresholds) == 0:
		return fmt.Errorf("%w: a plan names its patient, devices and parameters", ErrInvalid)
	case len(p.Devices) > 16 || len(p.Team.Members) > 8:
		return fmt.Errorf("%w: a plan has at most 16 devices and a team of 8", ErrInvalid)
	}
	for code, t := range p.Thresholds {
		v, ok := Vitals[code]
		if !ok {
			return fmt.Errorf("%w: %s is not a telemonitored parameter", ErrInvalid, code)
		}
		if t.Sustained < 0 || t.Sustained > 100 || t.Low != nil && t.High != nil && *t.Low >= *t.High ||
			t.Low != nil && (*t.Low < v.Min || *t.Low > v.Max) || t.High != nil && (*t.High < v.Min || *t.High > v.Max) {
			return fmt.Errorf("%w: threshold of %s: low under high, within %g–%g %s, sustained 1 to 100 readings", ErrInvalid, code, v.Min, v.Max, v.Unit)
		}
	}
	for _, d := range p.Devices {
		if !deviceRE.MatchString(d) {
			return fmt.Errorf("%w: device %q", ErrInvalid, d)
		}
	}
	for _, d := range p.Kit {
		if err := validDevice(d); err != nil {
			return err
		}
		if !slices.Contains(p.Devices, d.ID) {
			return fmt.Errorf("%w: the kit's device %q is not one of the plan's", ErrInvalid, d.ID)
		}
	}
	return nil
}

// PlanOf returns a patient's active plan.
func (s *Store) PlanOf(patient string) (Plan, error) {
	var p Plan
	err := s.db.View(func(tx *badger.Txn) error {
		var err error
		p, err = activePlan(tx, patient)
		return err
	})
	return p, err
}

func activePlan(tx *badger.Txn, patient string) (Plan, error) {
	var p Plan
	it, err := tx.Get(patientPlanKey(patient))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return p, ErrNoPlan
	}
	if err != nil {
		return p, err
	}
	id, err := it.ValueCopy(nil)
	if err != nil {
		return p, err
	}
	if it, err = tx.Get(planKey(string(id))); err != nil {
		return p, err
	}
	err = it.Value(func(b []byte) error { return json.Unmarshal(b, &p) })
	if err == nil && !p.Active {
		err = ErrNoPlan
	}
	return p, err
}

// Result is what an ingestion did.
type Result struct {
	Stored     int     `json:"stored"`
	Duplicates int     `json:"duplicates"`
	Alerts     []Alert `json:"alerts,omitempty"`
	// Resent tells, reading by reading of the batch, which were resends.
	Resent []bool `json:"resent,omitempty"`
}

// MaxBatch bounds the readings of one ingestion.
const MaxBatch = 1000

// InvalidReading names the reading of a batch that was refused.
type InvalidReading struct {
	Index int
	Err   error
}

func (e *InvalidReading) Error() string { return fmt.Sprintf("reading %d: %v", e.Index, e.Err) }
func (e *InvalidReading) Unwrap() error { return e.Err }

// Ingest stores a batch of readings and evaluates each against its
// patient's plan, in one transaction: all are stored (resends dropped) and
// every alert they raise recorded, or — when one is refused, named by an
// *InvalidReading — none is.
func (s *Store) Ingest(batch []Reading) (Result, error) {
	if len(batch) == 0 || len(batch) > MaxBatch {
		return Result{}, fmt.Errorf("%w: a batch holds 1 to %d readings", ErrInvalid, MaxBatch)
	}
	for attempt := 0; ; attempt++ {
		res, err := s.ingest(batch)
		if !errors.Is(err, badger.ErrConflict) || attempt == 30 {
			return res, err
		}
		// Batches of one patient's readings at once: back off, apart.
		time.Sleep(time.Duration(rand.Int64N(int64(attempt+1) * int64(time.Millisecond))))
	}
}

func (s *Store) ingest(batch []Reading) (Result, error) {
	var res Result
	err := s.db.Update(func(tx *badger.Txn) error {
		res = Result{}
		in := newBatchState(tx)
		now := s.now()
		res.Resent = make([]bool, len(batch))
		// Readings are evaluated in time order, whatever order the batch
		// holds them in (a gateway's backlog).
		order := make([]int, len(batch))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return batch[a].Time.Compare(batch[b].Time) })
		for _, i := range order {
			r := batch[i]
			p, err := in.plan(r.Patient)
			if err == nil {
				err = checkReading(r, p, now)
			}
			if err != nil {
				return &InvalidReading{Index: i, Err: err}
			}
			dup, err := in.seen(r)
			if err != nil {
				if errors.Is(err, ErrInvalid) {
					return &InvalidReading{Index: i, Err: err}
				}
				return err
			}
			res.Resent[i] = dup
			if dup {
				res.Duplicates++
				continue
			}
			res.Stored++
			if err := in.store(r); err != nil {
				return err
			}
			a, err := in.evaluate(r, p)
			if err != nil {
				return err
			}
			if a != nil {
				if a.Seq, err = s.seq.Next(); err != nil {
					return err
				}
				a.Raised = now.UTC()
				res.Alerts = append(res.Alerts, *a)
			}
		}
		return in.flush(res.Alerts)
	})
	return res, err
}

// checkReading refuses a reading its plan does not expect.
// EarlyReadings is how long before a plan's start its readings are taken
// (a device set up and tried before the enrolment was recorded).
const EarlyReadings = 24 * time.Hour

func checkReading(r Reading, p Plan, now time.Time) error {
	if _, ok := p.Thresholds[r.Code]; !ok {
		return fmt.Errorf("%w: the plan does not measure %s", ErrInvalid, r.Code)
	}
	v, ok := Vitals[r.Code]
	switch {
	case !slices.Contains(p.Devices, r.Device):
		return fmt.Errorf("%w: device %q is not associated with the plan", ErrInvalid, r.Device)
	case !ok || r.Value < v.Min || r.Value > v.Max || math.IsNaN(r.Value):
		return fmt.Errorf("%w: %s outside the physiological range", ErrInvalid, r.Code)
	case r.Time.After(now.Add(5 * time.Minute)):
		return fmt.Errorf("%w: a reading from the future (%s)", ErrInvalid, r.Time.UTC().Format(time.RFC3339))
	case r.Time.Before(p.Start.Add(-EarlyReadings)):
		return fmt.Errorf("%w: a reading from before the plan started", ErrInvalid)
	case len(r.Identifier) > 128 || len(r.Device) > 128:
		return fmt.Errorf("%w: identifiers are at most 128 bytes", ErrInvalid)
	}
	return nil
}

// day is a daily aggregate as kept.
type day struct {
	Count         uint64
	Sum, Min, Max float64
}

func (d day) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, d.Count)
	for _, f := range []float64{d.Sum, d.Min, d.Max} {
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(f))
	}
	return b
}

func decodeDay(b []byte) (day, error) {
	if len(b) != 32 {
		return day{}, fmt.Errorf("a daily aggregate of %d bytes", len(b))
	}
	f := func(i int) float64 { return math.Float64frombits(binary.BigEndian.Uint64(b[i:])) }
	return day{Count: binary.BigEndian.Uint64(b), Sum: f(8), Min: f(16), Max: f(24)}, nil
}

// batchState is one ingestion's view: plans, aggregates and runs read
// once and written back at the end.
type batchState struct {
	tx    *badger.Txn
	plans map[string]Plan
	days  map[string]day
	runs  map[string]run
}

func newBatchState(tx *badger.Txn) *batchState {
	return &batchState{tx: tx, plans: map[string]Plan{}, days: map[string]day{}, runs: map[string]run{}}
}

func (b *batchState) plan(patient string) (Plan, error) {
	if p, ok := b.plans[patient]; ok {
		return p, nil
	}
	p, err := activePlan(b.tx, patient)
	if err == nil {
		b.plans[patient] = p
	}
	return p, err
}

// seen reports whether a reading was stored before (or earlier in the
// batch): the same device, code and time, or the same identifier the
// device gave it. The same key with another value is not a resend but a
// contradiction, refused.
func (b *batchState) seen(r Reading) (bool, error) {
	k := readingKey(r)
	stored, err := b.value(k)
	if err != nil || stored != nil {
		if err == nil && *stored != r.Value {
			err = fmt.Errorf("%w: a reading of %s at %s from %s was stored with another value", ErrInvalid, r.Code, r.Time.Format(time.RFC3339), r.Device)
		}
		return stored != nil, err
	}
	if r.Identifier == "" {
		return false, nil
	}
	it, err := b.tx.Get(identifierKey(r))
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	prev, err := it.ValueCopy(nil)
	if err != nil {
		return false, err
	}
	// A resend the device stamped again is the reading it resends.
	if v, err := b.value(prev); err != nil || v == nil || *v != r.Value {
		return true, errors.Join(err, fmt.Errorf("%w: identifier %q of device %s names a reading of another value", ErrInvalid, r.Identifier, r.Device))
	}
	return true, nil
}

// value reads a stored reading's value (nil: none).
func (b *batchState) value(k []byte) (*float64, error) {
	it, err := b.tx.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var v float64
	err = it.Value(func(raw []byte) error {
		if len(raw) != 8 {
			return fmt.Errorf("a reading of %d bytes", len(raw))
		}
		v = math.Float64frombits(binary.BigEndian.Uint64(raw))
		return nil
	})
	return &v, err
}

// identifierKey indexes a reading by the device's identifier of it, per
// parameter (a hub may number each parameter's readings apart).
func identifierKey(r Reading) []byte {
	return []byte("ri/" + r.Patient + "\x00" + r.Device + "\x00" + r.Code + "\x00" + r.Identifier)
}

func (b *batchState) store(r Reading) error {
	k := readingKey(r)
	if err := b.tx.Set(k, binary.BigEndian.AppendUint64(nil, math.Float64bits(r.Value))); err != nil {
		return err
	}
	if r.Identifier != "" {
		if err := b.tx.Set(identifierKey(r), k); err != nil {
			return err
		}
	}
	dk := string(dayKey(r.Patient, r.Code, r.Time))
	d, ok := b.days[dk]
	if !ok {
		it, err := b.tx.Get([]byte(dk))
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
		case err != nil:
			return err
		default:
			if err := it.Value(func(v []byte) error { d, err = decodeDay(v); return err }); err != nil {
				return err
			}
		}
	}
	if d.Count == 0 || r.Value < d.Min {
		d.Min = r.Value
	}
	if d.Count == 0 || r.Value > d.Max {
		d.Max = r.Value
	}
	d.Count++
	d.Sum += r.Value
	b.days[dk] = d
	return nil
}

// run is a parameter's consecutive readings beyond its threshold, and
// the newest reading counted.
type run struct {
	Count  uint32
	Newest int64 // Unix nanoseconds
}

// evaluate counts a reading into its parameter's run beyond the plan's
// threshold, in time order: a reading older than the newest one counted
// (a late one) is stored but neither breaks nor extends the run. The
// reading that makes the run as long as the rule wants raises an alert
// (once per run: the run goes on without another).
func (b *batchState) evaluate(r Reading, p Plan) (*Alert, error) {
	t := p.Thresholds[r.Code]
	kind := ""
	switch {
	case t.High != nil && r.Value > *t.High:
		kind = "high"
	case t.Low != nil && r.Value < *t.Low:
		kind = "low"
	}
	rk := "s/" + p.ID + "\x00" + r.Code
	cur, ok := b.runs[rk]
	if !ok {
		it, err := b.tx.Get([]byte(rk))
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
		case err != nil:
			return nil, err
		default:
			if err := it.Value(func(v []byte) error {
				if len(v) == 12 {
					cur = run{Count: binary.BigEndian.Uint32(v), Newest: int64(binary.BigEndian.Uint64(v[4:]))}
				}
				return nil
			}); err != nil {
				return nil, err
			}
		}
	}
	if r.Time.UnixNano() < cur.Newest {
		b.runs[rk] = cur
		return nil, nil
	}
	cur.Newest = r.Time.UnixNano()
	if kind == "" {
		cur.Count = 0
		b.runs[rk] = cur
		return nil, nil
	}
	cur.Count++
	b.runs[rk] = cur
	if int(cur.Count) != max(t.Sustained, 1) {
		return nil, nil
	}
	return &Alert{Team: p.Team, Plan: p.ID, Patient: r.Patient, Code: r.Code, Kind: kind, Value: r.Value, Time: r.Time.UTC()}, nil
}

// flush writes the batch's aggregates, runs and alerts.
func (b *batchState) flush(alerts []Alert) error {
	for k, d := range b.days {
		if err := b.tx.Set([]byte(k), d.encode()); err != nil {
			return err
		}
	}
	for k, r := range b.runs {
		if err := b.tx.Set([]byte(k), binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(nil, r.Count), uint64(r.Newest))); err != nil {
			return err
		}
	}
	for _, a := range alerts {
		v, err := json.Marshal(a)
		if err != nil {
			return err
		}
		if err := b.tx.Set(binary.BigEndian.AppendUint64([]byte("o/"), a.Seq), v); err != nil {
			return err
		}
	}
	return nil
}

// Cursor is where a page of a series starts: a reading's time and
// device (readings of several devices may share a time).
type Cursor struct {
	Time   time.Time `json:"time"`
	Device string    `json:"device,omitempty"`
}

// Series reads a patient's readings of a parameter from from (inclusive:
// its time, and its device among readings of that time) to to (exclusive;
// zero: unbounded), oldest first, at most limit; next is where the
// following page starts (a zero time when there is none).
func (s *Store) Series(patient, code string, from Cursor, to time.Time, limit int) (out []Reading, next Cursor, err error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	prefix := seriesPrefix(patient, code)
	err = s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: min(limit, 100)})
		defer it.Close()
		seek := prefix
		if from.Time.After(time.Unix(0, 0)) {
			seek = binary.BigEndian.AppendUint64(bytes.Clone(prefix), uint64(from.Time.UnixNano()))
			if from.Device != "" {
				seek = append(append(seek, 0), from.Device...)
			}
		}
		for it.Seek(seek); it.Valid(); it.Next() {
			k := it.Item().Key()[len(prefix):]
			t := time.Unix(0, int64(binary.BigEndian.Uint64(k))).UTC()
			if !to.IsZero() && !t.Before(to) {
				break
			}
			if len(out) == limit {
				next = Cursor{Time: t, Device: string(k[9:])}
				break
			}
			r := Reading{Patient: patient, Code: code, Time: t, Device: string(k[9:])}
			if err := it.Item().Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("a reading of %d bytes", len(v))
				}
				r.Value = math.Float64frombits(binary.BigEndian.Uint64(v))
				return nil
			}); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	return out, next, err
}

// Day is a parameter's readings of one Italian calendar day.
type Day struct {
	Date  string  `json:"date"` // YYYY-MM-DD
	Count int     `json:"count"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Avg   float64 `json:"avg"`
}

// Daily reads a parameter's daily aggregates from the day of from to the
// day of to (inclusive).
func (s *Store) Daily(patient, code string, from, to time.Time) ([]Day, error) {
	var out []Day
	prefix := []byte("d/" + patient + "\x00" + code + "\x00")
	last := to.In(rome).Format("20060102")
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
		defer it.Close()
		for it.Seek(dayKey(patient, code, from)); it.Valid(); it.Next() {
			date := string(it.Item().Key()[len(prefix):])
			if date > last {
				break
			}
			var d day
			if err := it.Item().Value(func(v []byte) error {
				var err error
				d, err = decodeDay(v)
				return err
			}); err != nil {
				return err
			}
			out = append(out, Day{Date: date[:4] + "-" + date[4:6] + "-" + date[6:], Count: int(d.Count), Min: d.Min, Max: d.Max,
				Avg: d.Sum / float64(max(d.Count, 1))})
		}
		return nil
	})
	return out, err
}

// Pending lists alerts not yet delivered, oldest first (at most limit).
func (s *Store) Pending(limit int) ([]Alert, error) {
	var out []Alert
	err := s.db.View(func(tx *badger.Txn) error {
		it := tx.NewIterator(badger.IteratorOptions{Prefix: []byte("o/"), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid() && len(out) < limit; it.Next() {
			var a Alert
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &a) }); err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

// Delivered removes an alert from the outbox.
func (s *Store) Delivered(seq uint64) error {
	return s.db.Update(func(tx *badger.Txn) error {
		return tx.Delete(binary.BigEndian.AppendUint64([]byte("o/"), seq))
	})
}
