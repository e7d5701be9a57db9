/*
 * dedup.c: duplicate detection and gap counting for the sink, in bounded
 * memory and O(1) per reading (this is on the 100 Hz path).
 *
 * Each stream (device, boot) keeps the highest seq seen and a bitmap of the
 * `window` seqs ending at it: seq s lives at bit s % window. A seq more than
 * window - 1 below the highest is reported as a DUPLICATE: it can no longer
 * be told apart from one already stored, and the contract is that a reading
 * is stored at most once, so the sink errs towards dropping. Its hole stays
 * counted as a gap.
 *
 * Streams sit in a chained hash table over a pool of max_streams slots,
 * threaded on an LRU list. When the pool is full the least recently used
 * stream is forgotten and its slot reused; a stream that comes back after
 * that starts afresh (its first reading counts the seqs below it missing
 * again, and old seqs within the new window would be taken as new). Size
 * max_streams above the number of live sensors.
 */
#include "dedup.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEDUP_WINDOW_DEFAULT  65536u
/* A fleet's sink sees one stream per live sensor (the fleet benchmark runs
 * over 1000): an evicted live stream turns every one of its readings into a
 * false gap. Bitmaps are allocated on a slot's first use, so memory follows
 * the live streams (8 KiB each), not this bound. */
#define DEDUP_STREAMS_DEFAULT 16384u

struct stream {
	char           device[PT_DEVICE_MAX + 1];
	char           boot[PT_BOOT_LEN + 1];
	uint64_t       hash;
	uint64_t       high;    /* highest seq seen */
	uint64_t       first;   /* first seq seen */
	int            counted_below; /* seqs below first were counted missing */
	uint64_t      *bits;    /* window bits, allocated on first use of the slot */
	struct stream *hnext;   /* hash chain */
	struct stream *prev;    /* LRU list, most recent at d->head */
	struct stream *next;
};

struct dedup {
	uint32_t        window;
	uint32_t        max_streams;
	uint32_t        used;   /* slots handed out so far */
	size_t          words;  /* uint64_t words per bitmap */
	size_t          nbuckets; /* power of two */
	struct stream **buckets;
	struct stream  *pool;
	struct stream  *head;
	struct stream  *tail;
};

/* FNV-1a over device, a separator, boot. */
static uint64_t
key_hash(const char *device, const char *boot)
{
	uint64_t h = 14695981039346656037ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)device; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ 0xffu) * 1099511628211ULL;
	for (p = (const unsigned char *)boot; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

struct dedup *
dedup_new(uint32_t window, uint32_t max_streams)
{
	struct dedup *d = NULL;
	size_t n;

	if (window == 0)
		window = DEDUP_WINDOW_DEFAULT;
	if (max_streams == 0)
		max_streams = DEDUP_STREAMS_DEFAULT;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		goto fail;
	d->window = window;
	d->max_streams = max_streams;
	d->words = ((size_t)window + 63) / 64;
	for (n = 16; n < (size_t)max_streams * 2; n *= 2)
		;
	d->nbuckets = n;
	if ((d->buckets = calloc(n, sizeof(*d->buckets))) == NULL ||
	    (d->pool = calloc(max_streams, sizeof(*d->pool))) == NULL)
		goto fail;
	return d;
fail:
	dedup_free(d);
	errno = ENOMEM;
	return NULL;
}

void
dedup_free(struct dedup *d)
{
	uint32_t i;

	if (d == NULL)
		return;
	if (d->pool != NULL)
		for (i = 0; i < d->used; i++)
			free(d->pool[i].bits);
	free(d->pool);
	free(d->buckets);
	free(d);
}

static void
lru_unlink(struct dedup *d, struct stream *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		d->head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	else
		d->tail = s->prev;
	s->prev = s->next = NULL;
}

static void
lru_push(struct dedup *d, struct stream *s)
{
	s->prev = NULL;
	s->next = d->head;
	if (d->head != NULL)
		d->head->prev = s;
	d->head = s;
	if (d->tail == NULL)
		d->tail = s;
}

static void
hash_unlink(struct dedup *d, struct stream *s)
{
	struct stream **pp = &d->buckets[s->hash & (d->nbuckets - 1)];

	while (*pp != NULL && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp != NULL)
		*pp = s->hnext;
	s->hnext = NULL;
}

static struct stream *
stream_find(struct dedup *d, const char *device, const char *boot, uint64_t h)
{
	struct stream *s;

	for (s = d->buckets[h & (d->nbuckets - 1)]; s != NULL; s = s->hnext)
		if (s->hash == h && strcmp(s->device, device) == 0 &&
		    strcmp(s->boot, boot) == 0)
			return s;
	return NULL;
}

/*
 * A slot for a new stream: a fresh one while the pool lasts, else the least
 * recently used one, cleared. NULL only when a bitmap cannot be allocated.
 */
static struct stream *
stream_take(struct dedup *d)
{
	struct stream *s;

	if (d->used < d->max_streams) {
		s = &d->pool[d->used];
		if ((s->bits = calloc(d->words, sizeof(uint64_t))) == NULL)
			return NULL;
		d->used++;
		return s;
	}
	s = d->tail;
	lru_unlink(d, s);
	hash_unlink(d, s);
	memset(s->bits, 0, d->words * sizeof(uint64_t));
	return s;
}

static bool
bit_test(const struct dedup *d, const struct stream *s, uint64_t seq)
{
	uint64_t i = seq % d->window;

	return (s->bits[i / 64] >> (i % 64)) & 1u;
}

static void
bit_set(const struct dedup *d, struct stream *s, uint64_t seq)
{
	uint64_t i = seq % d->window;

	s->bits[i / 64] |= (uint64_t)1 << (i % 64);
}

/* Clear bits [from, from + n) of the bitmap, n <= window, without wrapping. */
static void
bits_clear_run(uint64_t *bits, uint64_t from, uint64_t n)
{
	uint64_t end = from + n;

	while (from < end && from % 64 != 0) {
		bits[from / 64] &= ~((uint64_t)1 << (from % 64));
		from++;
	}
	while (end - from >= 64) {
		bits[from / 64] = 0;
		from += 64;
	}
	while (from < end) {
		bits[from / 64] &= ~((uint64_t)1 << (from % 64));
		from++;
	}
}

/*
 * Slide the window up from s->high to seq: the slots of seqs high+1 .. seq
 * still hold bits of seqs one window older, so clear them. Costs at most
 * window / 64 word stores, and only as far as the window moves.
 */
static void
window_advance(const struct dedup *d, struct stream *s, uint64_t seq)
{
	uint64_t n = seq - s->high, from, run;

	if (n >= d->window) {
		memset(s->bits, 0, d->words * sizeof(uint64_t));
		return;
	}
	from = (s->high + 1) % d->window;
	run = d->window - from;
	if (run > n)
		run = n;
	bits_clear_run(s->bits, from, run);
	if (n > run)
		bits_clear_run(s->bits, 0, n - run);
}

/* At most cap - 1 bytes of src into dst, NUL terminated. */
static void
bounded_copy(char *dst, const char *src, size_t cap)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The stream of (device, boot), keyed on bounded copies; NULL if unknown.
 * dev/bt receive the copies, h their hash. */
static struct stream *
lookup(struct dedup *d, const char *device, const char *boot,
       char dev[PT_DEVICE_MAX + 1], char bt[PT_BOOT_LEN + 1], uint64_t *h)
{
	/* Not snprintf: this runs for every reading. */
	bounded_copy(dev, device, PT_DEVICE_MAX + 1);
	bounded_copy(bt, boot, PT_BOOT_LEN + 1);
	*h = key_hash(dev, bt);
	return stream_find(d, dev, bt, *h);
}

/* A new stream whose first reading is seq; NULL when no slot can be had. */
static struct stream *
stream_start(struct dedup *d, const char *dev, const char *bt, uint64_t h,
             uint64_t seq)
{
	struct stream *s;

	if ((s = stream_take(d)) == NULL)
		return NULL;
	memcpy(s->device, dev, PT_DEVICE_MAX + 1);
	memcpy(s->boot, bt, PT_BOOT_LEN + 1);
	s->hash = h;
	s->high = s->first = seq;
	s->counted_below = 0;
	bit_set(d, s, seq);
	s->hnext = d->buckets[h & (d->nbuckets - 1)];
	d->buckets[h & (d->nbuckets - 1)] = s;
	lru_push(d, s);
	return s;
}

/* Known stream: classify seq and remember it. */
static enum dedup_verdict
stream_check(struct dedup *d, struct stream *s, uint64_t seq, int64_t *delta)
{
	if (s != d->head) {
		lru_unlink(d, s);
		lru_push(d, s);
	}
	if (seq > s->high) {
		*delta = (int64_t)(seq - s->high - 1);
		window_advance(d, s, seq);
		s->high = seq;
		bit_set(d, s, seq);
	} else if (s->high - seq >= d->window || bit_test(d, s, seq)) {
		return DEDUP_DUPLICATE;
	} else {
		bit_set(d, s, seq);
		/* Below the stream's first reading nothing was counted missing. */
		if (seq > s->first || (seq < s->first && s->counted_below))
			*delta = -1;
	}
	return DEDUP_NEW;
}

/*
 * NULL d, device or boot (a caller bug) answers DEDUP_NEW: never drop a
 * reading for want of bookkeeping. gap_delta may be NULL. device and boot
 * are expected validated (at most PT_DEVICE_MAX / PT_BOOT_LEN chars); longer
 * ones are keyed on their first that many chars. When no slot can be had
 * (allocation failure) the reading is NEW with no gap accounting.
 */
enum dedup_verdict
dedup_check(struct dedup *d, const char *device, const char *boot,
            uint64_t seq, int64_t *gap_delta)
{
	char dev[PT_DEVICE_MAX + 1], bt[PT_BOOT_LEN + 1];
	struct stream *s;
	int64_t delta = 0;
	enum dedup_verdict v = DEDUP_NEW;
	uint64_t h;

	if (d == NULL || device == NULL || boot == NULL)
		goto out;
	if ((s = lookup(d, device, boot, dev, bt, &h)) != NULL) {
		v = stream_check(d, s, seq, &delta);
	} else if ((s = stream_start(d, dev, bt, h, seq)) != NULL) {
		/* Seqs 0 .. seq-1 never came: counted, and filled if they do. */
		s->counted_below = 1;
		delta = (int64_t)seq;
		v = DEDUP_FIRST;
	}
out:
	if (gap_delta != NULL)
		*gap_delta = delta;
	return v;
}

void
dedup_seed(struct dedup *d, const char *device, const char *boot, uint64_t seq)
{
	char dev[PT_DEVICE_MAX + 1], bt[PT_BOOT_LEN + 1];
	struct stream *s;
	int64_t ignored = 0;
	uint64_t h;

	if (d == NULL || device == NULL || boot == NULL)
		return;
	if ((s = lookup(d, device, boot, dev, bt, &h)) != NULL)
		(void)stream_check(d, s, seq, &ignored);
	else
		(void)stream_start(d, dev, bt, h, seq);
}

int
dedup_known(struct dedup *d, const char *device, const char *boot)
{
	char dev[PT_DEVICE_MAX + 1], bt[PT_BOOT_LEN + 1];
	uint64_t h;

	if (d == NULL || device == NULL || boot == NULL)
		return 0;
	return lookup(d, device, boot, dev, bt, &h) != NULL;
}
