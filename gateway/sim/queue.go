package sim

// Event kinds.
const (
	evFlip        uint8 = iota // a node's session flips: a = node, b = its generation
	evGrace                    // a node's offline grace ends: a = node, b = generation
	evDepart                   // a node leaves for good: a = node
	evDisk                     // a node's disk fails: a = node
	evKnown                    // a new node's uptime becomes known: a = node
	evDetect                   // audits find a shard gone: a = slot, b = its holder
	evRepairCheck              // a segment may need repair: a = segment
	evRepairDone               // a segment's repair completes: a = segment
	evChurn                    // a segment is overwritten
	evRead                     // a read attempt is sampled
	evSample                   // a point of the time series
)

// event is one thing to happen at t (milliseconds of simulated time).
type event struct {
	t    int64
	a    int32
	b    uint32
	kind uint8
}

// queue is a binary min-heap of events by time, then by push order (seq),
// so equal times run in a deterministic order.
type queue struct {
	ev  []event
	seq []uint64
	n   uint64
}

func (q *queue) less(i, j int) bool {
	if q.ev[i].t != q.ev[j].t {
		return q.ev[i].t < q.ev[j].t
	}
	return q.seq[i] < q.seq[j]
}

func (q *queue) swap(i, j int) {
	q.ev[i], q.ev[j] = q.ev[j], q.ev[i]
	q.seq[i], q.seq[j] = q.seq[j], q.seq[i]
}

func (q *queue) push(e event) {
	q.ev = append(q.ev, e)
	q.seq = append(q.seq, q.n)
	q.n++
	for i := len(q.ev) - 1; i > 0; {
		up := (i - 1) / 2
		if !q.less(i, up) {
			break
		}
		q.swap(i, up)
		i = up
	}
}

func (q *queue) len() int { return len(q.ev) }

func (q *queue) pop() event {
	top := q.ev[0]
	last := len(q.ev) - 1
	q.swap(0, last)
	q.ev, q.seq = q.ev[:last], q.seq[:last]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < last && q.less(l, small) {
			small = l
		}
		if r := l + 1; r < last && q.less(r, small) {
			small = r
		}
		if small == i {
			break
		}
		q.swap(i, small)
		i = small
	}
	return top
}

// fenwick is a Fenwick tree of node weights: sampling a node with
// probability proportional to its weight in O(log n).
type fenwick struct {
	tree []float64
	w    []float64
}

func (f *fenwick) grow(n int) {
	for len(f.w) < n {
		f.w = append(f.w, 0)
		f.tree = append(f.tree, 0)
		i := len(f.tree) // 1-based index of the new entry
		// Its node covers (i - lowbit(i), i]: all zero but what the
		// existing entries hold; rebuild it from them.
		var sum float64
		for j := i - 1; j > i-(i&-i); j -= j & -j {
			sum += f.tree[j-1]
		}
		f.tree[i-1] = sum
	}
}

func (f *fenwick) set(i int, w float64) {
	d := w - f.w[i]
	if d == 0 {
		return
	}
	f.w[i] = w
	for j := i + 1; j <= len(f.tree); j += j & -j {
		f.tree[j-1] += d
	}
}

// rebuild recomputes the tree from the weights, dropping rounding drift.
func (f *fenwick) rebuild() {
	for i := range f.tree {
		f.tree[i] = f.w[i]
	}
	for i := 1; i <= len(f.tree); i++ {
		if p := i + (i & -i); p <= len(f.tree) {
			f.tree[p-1] += f.tree[i-1]
		}
	}
}

func (f *fenwick) total() float64 {
	var s float64
	for j := len(f.tree); j > 0; j -= j & -j {
		s += f.tree[j-1]
	}
	return s
}

// find returns the entry where the prefix sum passes x (0 <= x < total);
// -1 if the tree is empty.
func (f *fenwick) find(x float64) int {
	pos := 0
	step := 1
	for step*2 <= len(f.tree) {
		step *= 2
	}
	for ; step > 0; step /= 2 {
		if next := pos + step; next <= len(f.tree) && f.tree[next-1] <= x {
			pos = next
			x -= f.tree[next-1]
		}
	}
	if pos >= len(f.w) {
		return -1
	}
	return pos
}
