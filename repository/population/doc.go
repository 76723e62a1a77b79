// Package population answers population questions: an aggregate (counts,
// distinct patients, sums, histograms) over a filter on the coarse rows
// (facts.Row) a region derives from its documents, grouped by a few
// coarse attributes. It holds the pure parts the store, the peer protocol,
// the authority's endpoint and fsectl call: the declarative Question and
// its strict decoder, the per-region Aggregator that computes and
// suppresses an Answer, the strict decoder a requester applies to a
// peer's Answer, and Merge, which combines regions' answers. It reads no
// store, opens no stream and logs nothing.
//
// # Privacy model
//
// A question is a small declarative form (resource type, code filter,
// value range, time window, age and gender filters, group-by among a fixed
// set of coarse attributes, one measure), never code. Every region
// computes the answer on its own rows; rows, patient pseudonyms and
// individual values never leave it. What leaves is an Answer: the key of
// the question answered, the effective k, and one cell per combination of
// group values that has at least one matching row, each carrying only the
// numbers of the question's measure.
//
// The k rule: a cell is published only when at least k distinct patients
// contribute to it, whatever the measure (k-anonymity protects persons, so
// a count of rows, of documents or a sum is suppressed on the number of
// people behind it, not on its own size). k is the larger of the
// question's k and the region's configured minimum (DefaultMinK, 10). A
// suppressed cell stays in the answer, marked suppressed, with no numbers
// at all: the requester learns that the group has some matching rows, never
// how many. A question that narrows to one person gets only suppressed
// cells. A histogram cell is published only when every non-empty bucket
// has at least k distinct patients, otherwise the whole cell is
// suppressed: the cell's total is what a count question with the same
// filter returns, so suppressing one bucket alone would be undone by a
// subtraction. There is no totals row (a total beside a suppressed cell
// would give the suppressed cell away), and cells are never estimated or
// perturbed.
//
// Across regions a patient pseudonym is local to its region, so the
// patients measure counts a person who has data in two regions once in
// each; Merge adds the regions' numbers and never un-suppresses: a
// merged cell names the regions whose part was suppressed.
//
// What the k rule does not protect: differencing across questions. Two
// questions whose filters differ by a sliver (ages from 65 and from 70;
// two time windows one month apart; two value ranges) can each pass the k
// rule while their difference describes fewer than k people. This package
// narrows the cheapest forms of it and leaves the rest to the authority's
// authorisation and the audit of every question and answer: age bounds
// must be multiples of 5 (or 18, the age of majority), time windows start
// and end on the first day of a month, and there is at most one gender
// filter and three group-by attributes. Value ranges are not coarsened
// (their units differ too much for one rule). No query history is kept
// here; a region that wants to refuse overlapping questions needs one.
package population
