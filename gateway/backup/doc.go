// Package backup keeps the owner's catalog on the network, so that the
// recovery phrase alone gets everything back.
//
// Every change to the catalog (package meta: buckets, objects, segment
// records, multipart uploads) is logged in the same commit as the change
// (the catalog log). A Backup ships that log in steps: the first step, and
// every step after MaxLogs log chunks, stores a snapshot of the whole
// catalog (and an index blob listing the snapshot's segments); the others
// store a log chunk of the changes since the last step. Blobs are stored
// through the gateway's segment store like any object: sealed under a
// fresh data key, erasure coded, placed on peers, their leases renewed,
// audited and repaired. A step is due once the oldest change not backed
// up is MaxLag/3 old (30 s / 3 by default), so the backup lag stays under
// MaxLag; bookkeeping (lease renewals, audit results: meta.Quiet) rides
// along with the next step but starts none.
//
// After each step a root record goes to the root holders: the peers
// chosen by rendezvous hashing of the owner ID over the peer table (2n of
// them) and the holders of the newest blob's shards. It carries a
// sequence number (increasing: at least the time of the step in
// nanoseconds) and a pointer sealed with the catalog key: where the index
// and the log chunks are (their segment records, without receipts), up to
// which log record they go. Peers learn nothing from it. Nodes keep the
// highest sequence per owner.
//
// FindRoot asks the holders a fresh machine can compute from the peers it
// discovers (widening while few answer) and keeps the highest valid root:
// a holder replaying an older root cannot roll the owner back while one
// honest holder has the newer one, and forged roots fail the owner's
// signature. Restore reads the snapshot and the log chunks, checks that
// they follow each other, and rebuilds the catalog; the restored
// gateway's first step is a snapshot, which drops the old blobs.
package backup
