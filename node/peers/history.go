package peers

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// Liveness and reputation constants.
const (
	// historyDays is the uptime window, one bucket a day.
	historyDays = 30
	// backoffBase is the first back-off after a failed contact; it
	// doubles with every failure after a back-off ended, up to backoffMax.
	backoffBase = 30 * time.Second
	backoffMax  = time.Hour
	// lieHalfLife is how fast a lie is forgiven: demerits halve every
	// lieHalfLife.
	lieHalfLife = 4 * time.Hour
	// liarBelow is the reputation under which a tried peer is not
	// placeable: about two lies within a half-life.
	liarBelow = 0.35
	// recentSuccess protects a tried entry from eviction: it answered
	// within it.
	recentSuccess = 4 * time.Hour
	// A long good history, which protects a tried entry from eviction:
	// successes on goodDays days of the window and an uptime of at least
	// goodUptime.
	goodDays   = 3
	goodUptime = 0.5
	// A new entry is terrible (replaceable) once its record expired, or
	// after terribleTries contacts and no success, or maxFailures
	// back-offs and no success within failDays; never within
	// challengeHold of its last contact.
	terribleTries = 3
	maxFailures   = 10
	failDays      = 7 * 24 * time.Hour
	// challengeHold is how long an entry handed out by DueForChallenge
	// is not handed out again, unless its outcome comes first.
	challengeHold = time.Minute
	// deadRetry is how long a new entry never reached waits between
	// challenges, so a table full of junk costs few.
	deadRetry = 6 * time.Hour
	// recheck is how long a verified entry that found "tried" full waits
	// before it is challenged again.
	recheck = time.Hour
	// triedHorizon is how long past its record's expiry a tried entry is
	// kept, so a peer back after an outage keeps its history.
	triedHorizon = 30 * 24 * time.Hour
)

// day is one day's contacts: tried and succeeded.
type day struct{ tries, ok uint16 }

// history is what a peer's contacts and audits said, in bounded memory.
// Times are unix seconds, 0 for never.
type history struct {
	days     [historyDays]day // ring: day d in days[d mod historyDays]
	lastDay  int32            // the newest day recorded (unix days)
	failures uint16           // back-offs since the last success
	tries    uint32           // contacts in all (saturating)
	ok       uint32           // successful contacts in all (saturating)
	demerits float32          // lies, as of demerAt, fading
	heard    int64            // first heard of
	lastSeen int64            // last success
	lastTry  int64            // last contact
	retryAt  int64            // end of the back-off
	demerAt  int64
	// downSince is the first failed contact since the last success (0:
	// answering, or unknown for a history stored before it was kept).
	downSince int64
}

func unixDay(t int64) int32 {
	d := t / 86400
	if t < 0 && t%86400 != 0 {
		d--
	}
	return int32(d)
}

func ring(d int32) int { return int(((d % historyDays) + historyDays) % historyDays) }

// contact records one contact at now: ok is its outcome. It returns
// whether the peer started failing (its first back-off) or answered again
// after failing, for the log.
func (h *history) contact(now int64, ok bool) (startedFailing, recovered bool) {
	h.count(now, ok)
	h.lastTry = now
	h.tries = satAdd(h.tries)
	if ok {
		recovered = h.failures > 0
		h.ok = satAdd(h.ok)
		h.lastSeen = now
		h.failures, h.retryAt, h.downSince = 0, 0, 0
		return false, recovered
	}
	if now < h.retryAt {
		// Failures of contacts made meanwhile tell nothing new.
		return false, false
	}
	if h.failures == 0 {
		h.downSince = now
	}
	if h.failures < math.MaxUint16 {
		h.failures++
	}
	d := backoffBase << min(h.failures-1, 30)
	if d > backoffMax || d <= 0 {
		d = backoffMax
	}
	h.retryAt = now + int64(d/time.Second)
	return h.failures == 1, false
}

func satAdd(v uint32) uint32 {
	if v < math.MaxUint32 {
		v++
	}
	return v
}

// count adds a contact to its day's bucket.
func (h *history) count(now int64, ok bool) {
	d := unixDay(now)
	switch {
	case d > h.lastDay:
		if d-h.lastDay >= historyDays {
			h.days = [historyDays]day{}
		} else {
			for x := h.lastDay + 1; x <= d; x++ {
				h.days[ring(x)] = day{}
			}
		}
		h.lastDay = d
	case d <= h.lastDay-historyDays:
		return // older than the window (the clock went back)
	}
	b := &h.days[ring(d)]
	if b.tries == math.MaxUint16 {
		b.tries, b.ok = b.tries/2, b.ok/2 // keeps the ratio
	}
	b.tries++
	if ok {
		b.ok++
	}
}

// window sums the last historyDays days to now: contacts tried and
// succeeded, and days with a success.
func (h *history) window(now int64) (tries, ok, daysOK int) {
	today := unixDay(now)
	for k := range int32(historyDays) {
		d := h.lastDay - k
		if d > today || d <= today-historyDays {
			continue
		}
		b := h.days[ring(d)]
		tries += int(b.tries)
		ok += int(b.ok)
		if b.ok > 0 {
			daysOK++
		}
	}
	return tries, ok, daysOK
}

// uptime is the fraction of the window's contacts that succeeded (0
// without contacts).
func (h *history) uptime(now int64) float64 {
	t, ok, _ := h.window(now)
	if t == 0 {
		return 0
	}
	return float64(ok) / float64(t)
}

// reputation is 1/(1+d) for d demerits (each lie one, halving every
// lieHalfLife): in (0, 1], 1 for a peer that never lied.
func (h *history) reputation(now int64) float64 {
	return 1 / (1 + h.fadedDemerits(now))
}

func (h *history) fadedDemerits(now int64) float64 {
	if h.demerits <= 0 {
		return 0
	}
	age := max(now-h.demerAt, 0)
	return float64(h.demerits) * math.Exp2(-float64(age)/lieHalfLife.Seconds())
}

// lie adds a demerit; it returns the reputation before.
func (h *history) lie(now int64) float64 {
	d := h.fadedDemerits(now)
	h.demerits, h.demerAt = float32(d+1), now
	return 1 / (1 + d)
}

// score ranks histories, best highest: the smoothed uptime of the window
// times the days with a success (1 + daysOK), times the reputation. A
// peer with weeks of answers outranks any number of fresh ones.
func (h *history) score(now int64) float64 {
	t, ok, daysOK := h.window(now)
	return h.reputation(now) * float64(ok+1) / float64(t+2) * float64(1+daysOK)
}

// protected reports whether a tried entry may never be evicted: it
// answered within recentSuccess, or it has a long good history.
func (h *history) protected(now int64) bool {
	if h.lastSeen > 0 && now-h.lastSeen < int64(recentSuccess/time.Second) {
		return true
	}
	t, ok, daysOK := h.window(now)
	return daysOK >= goodDays && float64(ok) >= goodUptime*float64(t)
}

// terrible reports whether a new entry may be replaced by a newcomer:
// its record expired, or its contacts keep failing.
func (h *history) terrible(now int64, expired bool) bool {
	switch {
	case h.lastTry > 0 && now-h.lastTry < int64(challengeHold/time.Second):
		return false // give it its chance
	case expired:
		return true
	case h.ok == 0 && h.tries >= terribleTries:
		return true
	}
	return h.failures >= maxFailures && now-h.lastSeen > int64(failDays/time.Second)
}

func (h *history) backingOff(now int64) bool { return now < h.retryAt }

// The encoding of an entry's history and flags in meta.Peer.History.
const (
	historyV1 = 1
	flagMoved = 1 << 0 // a tried entry's address changed, not yet verified
)

func (h *history) encode(moved bool) []byte {
	b := make([]byte, 0, 64+historyDays*2)
	b = append(b, historyV1)
	var flags uint64
	if moved {
		flags |= flagMoved
	}
	b = binary.AppendUvarint(b, flags)
	for _, v := range [...]int64{h.heard, h.lastSeen, h.lastTry, h.retryAt, h.demerAt, int64(h.lastDay)} {
		b = binary.AppendVarint(b, v)
	}
	b = binary.AppendUvarint(b, uint64(h.failures))
	b = binary.AppendUvarint(b, uint64(h.tries))
	b = binary.AppendUvarint(b, uint64(h.ok))
	b = binary.AppendUvarint(b, uint64(math.Float32bits(h.demerits)))
	for _, d := range h.days {
		b = binary.AppendUvarint(b, uint64(d.tries))
		b = binary.AppendUvarint(b, uint64(d.ok))
	}
	// Added after the first release: a reader without it stops above.
	return binary.AppendVarint(b, h.downSince)
}

var errHistory = errors.New("peers: corrupt history")

// decodeHistory reads encode's output; values out of range are clamped,
// so whatever decodes is a usable history. Trailing bytes are ignored.
func decodeHistory(b []byte) (h history, moved bool, err error) {
	if len(b) == 0 || b[0] != historyV1 {
		return h, false, errHistory
	}
	r := histReader{b: b[1:]}
	flags := r.uvarint()
	var times [6]int64
	for i := range times {
		times[i] = r.varint()
	}
	h.heard, h.lastSeen, h.lastTry, h.retryAt, h.demerAt = times[0], times[1], times[2], times[3], times[4]
	h.lastDay = int32(max(min(times[5], math.MaxInt32), math.MinInt32))
	h.failures = uint16(min(r.uvarint(), math.MaxUint16))
	h.tries = uint32(min(r.uvarint(), math.MaxUint32))
	h.ok = uint32(min(r.uvarint(), uint64(h.tries)))
	dm := math.Float32frombits(uint32(r.uvarint()))
	if dm > 0 && !math.IsInf(float64(dm), 0) { // NaN compares false
		h.demerits = dm
	}
	for i := range h.days {
		t := uint16(min(r.uvarint(), math.MaxUint16))
		h.days[i] = day{tries: t, ok: uint16(min(r.uvarint(), uint64(t)))}
	}
	if r.bad {
		return history{}, false, errHistory
	}
	if len(r.b) > 0 { // absent from histories stored before it was kept
		if v := r.varint(); !r.bad && h.failures > 0 && v > 0 && v <= h.lastTry {
			h.downSince = v
		}
	}
	return h, flags&flagMoved != 0, nil
}

type histReader struct {
	b   []byte
	bad bool
}

func (r *histReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *histReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}
