// Package meta is Ishtar's local catalog: typed keyspaces over one Pebble
// database, with atomic batches. It is the only package that imports Pebble.
//
// # Layout
//
// Every entity owns one key prefix byte; key encoding lives in keys.go,
// keys_catalog.go, backup.go and roots.go. The owner's catalog (buckets,
// objects, segments, multipart uploads, the gateway's counters, the
// backup's blob index) is under uppercase bytes, one contiguous range
// (CatalogStart to CatalogEnd, IsCatalogKey) that the catalog backup
// snapshots and restores; lowercase bytes are this machine's own: what
// the node holds for others, its peers, roots, and the gateway's journal,
// release queue and catalog log. Values are compact, versioned binary records (codec.go): the first byte is
// the record version, fields follow as varints and length-prefixed bytes.
// Decoders accept every version they know and ignore trailing bytes, so a
// newer field can be appended without a migration.
//
// # Writes
//
// Single Set/Delete calls commit on their own. A Batch groups writes that
// must land together; it commits with fsync unless NoSync is given, and
// Synced reports which. Update runs a read-modify-write transaction: writers
// are serialized, reads inside see the transaction's own writes, and the
// fsync happens after the writer lock is released, so concurrent updates
// share one WAL sync (Pebble's group commit). The effect of a successful
// Update is visible to readers as soon as it is applied, slightly before it
// is durable; Update returns only once it is durable.
//
// # Held shards and the lease index
//
// A held shard's record ('s') lists its holdings, one per owner, each with
// its lease expiry. The lease index ('e') has one empty-valued entry per
// holding, keyed by expiry (unix seconds, big-endian with the sign bit
// flipped, so keys sort by expiry), shard and owner. PutHeldShard and
// DeleteHeldShard keep it in step with the record they write, in the same
// batch, so every writer of a record keeps it consistent; a node lists
// the lapsed leases with LapsedLeases, a short prefix scan, and checks
// each against the record before acting.
//
// # Schema
//
// The counter "meta/schema" is the layout's version; Open brings an older
// catalog up to date (migrate.go), one step per version, each recording
// its version in its last batch: schema 1 added the owners' totals,
// schema 2 the lease index (built a page of records per batch), schema 3
// moved the catalog under its uppercase prefixes (a page of keys per
// batch; testdata/schema2 is a catalog written before it).
//
// # The catalog log
//
// Every batch that changes the catalog also writes, in the same commit, a
// log record of those changes ('l', catalog_log.go) under the next
// sequence number; batches with catalog changes are applied one at a time
// so that the log's order is the commit order. Quiet batches (lease
// renewals, audit results) are marked as such. SnapshotCatalog takes a
// consistent view of the catalog with the last record it includes;
// ReplaceCatalog and ApplyChanges restore a snapshot and the records after
// it. Migrations and restores are not logged.
//
// # Adding an entity
//
//  1. pick an unused prefix byte in keys.go (uppercase if it belongs to
//     the owner's catalog and must be backed up) and write its key
//     function;
//  2. declare a plain struct and its encode/decode pair (see peers.go);
//  3. add getters on DB and Batch through the generic get/scan helpers and
//     setters on Batch.
package meta
