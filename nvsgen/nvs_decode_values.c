/* NVS decoder: from items to values. Namespaces by index, V2 blobs
 * reassembled from their chunks, and which of two writes of a key the device
 * reads (the others are marked shadowed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvs_decode_int.h"

/* Every good BLOB_DATA item, sorted by (namespace, key, chunk index, image
 * position), so that a blob index finds each of its chunks by binary search
 * (a crafted image may hold thousands of indices and chunks). */
struct chunk_ref {
	const struct nvs_decode_item *it;
	size_t pos; /* index in d->items */
};

static int cmp_chunk(const struct nvs_decode_item *a, size_t apos, const struct nvs_decode_item *b, size_t bpos)
{
	int c;
	if (a->ns_index != b->ns_index)
		return a->ns_index < b->ns_index ? -1 : 1;
	c = strcmp(a->key, b->key);
	if (c)
		return c;
	if (a->chunk_index != b->chunk_index)
		return a->chunk_index < b->chunk_index ? -1 : 1;
	return apos < bpos ? -1 : (apos > bpos);
}

static int cmp_chunk_ref(const void *x, const void *y)
{
	const struct chunk_ref *a = x, *b = y;
	return cmp_chunk(a->it, a->pos, b->it, b->pos);
}

/* First chunk_ref not ordered before (ns, key, chunk) of probe. */
static size_t chunk_lower_bound(const struct chunk_ref *refs, size_t n, const struct nvs_decode_item *probe,
				uint8_t chunk)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct nvs_decode_item *it = refs[mid].it;
		int c;
		if (it->ns_index != probe->ns_index)
			c = it->ns_index < probe->ns_index ? -1 : 1;
		else if ((c = strcmp(it->key, probe->key)) == 0)
			c = it->chunk_index < chunk ? -1 : (it->chunk_index > chunk);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* V2 blobs: chunk k of an index lives in a BLOB_DATA item of the same
 * namespace and key whose chunk_index is chunk_start + k. */
static int reassemble(struct decoder *dc, struct nvs_decode_value *v, bool *used, const struct chunk_ref *refs,
		      size_t nrefs)
{
	struct nvs_decode *d = dc->d;
	const struct nvs_decode_item *idx = v->item;
	const struct nvs_decode_item *hits[256];
	size_t total = 0, pos = 0;
	uint8_t *buf;
	bool complete = true;
	int rc;

	for (unsigned k = 0; k < idx->chunk_count; k++) {
		uint8_t want = (uint8_t)(idx->chunk_start + k);
		const struct nvs_decode_item *hit = NULL;
		size_t hi = 0, first = chunk_lower_bound(refs, nrefs, idx, want), end = first;
		while (end < nrefs && refs[end].it->ns_index == idx->ns_index && refs[end].it->chunk_index == want &&
		       !strcmp(refs[end].it->key, idx->key))
			end++;
		/* A rewritten blob leaves older chunks with the same key and chunk
		 * index behind: take the first one no earlier index has claimed,
		 * else the first one. */
		for (size_t j = first; j < end && !hit; j++)
			if (!used[refs[j].pos]) {
				hit = refs[j].it;
				hi = refs[j].pos;
			}
		if (!hit && first < end) {
			hit = refs[first].it;
			hi = refs[first].pos;
		}
		hits[k] = hit;
		if (!hit) {
			complete = false;
			if ((rc = nvsd_problem(dc, NVS_DECODE_P_BLOB, idx->page, idx->slot,
					       "page %u entry %u: blob '%s' chunk %u (of %u) is missing", idx->page, idx->slot,
					       idx->key, (unsigned)want, (unsigned)idx->chunk_count)))
				return rc;
			continue;
		}
		used[hi] = true;
		total += hit->len;
		v->chunks++;
		if (!hit->data_crc_ok)
			complete = false;
	}
	if (complete && total != idx->blob_size) {
		complete = false;
		if ((rc = nvsd_problem(dc, NVS_DECODE_P_BLOB, idx->page, idx->slot,
				       "page %u entry %u: blob '%s' has %zu bytes in its chunks, its index says %u", idx->page,
				       idx->slot, idx->key, total, idx->blob_size)))
			return rc;
	}
	if ((rc = nvsd_grow((void **)&d->blobs_, &dc->blob_cap, d->blob_count_, sizeof(*d->blobs_))))
		return rc;
	buf = malloc(total ? total : 1);
	if (!buf)
		return NVS_ENOMEM;
	d->blobs_[d->blob_count_++] = buf;
	for (unsigned k = 0; k < idx->chunk_count; k++) {
		if (!hits[k])
			continue;
		memcpy(buf + pos, hits[k]->data, hits[k]->len);
		pos += hits[k]->len;
	}
	v->data = buf;
	v->len = total;
	v->ok = complete;
	return 0;
}

struct value_order {
	uint8_t ns_index;
	const char *key;
	size_t pos;
};

static int cmp_value_key(const void *a, const void *b)
{
	/* Ties keep image order so the first write is the one not shadowed. */
	const struct value_order *x = a, *y = b;
	int c;
	if (x->ns_index != y->ns_index)
		return x->ns_index < y->ns_index ? -1 : 1;
	c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->pos < y->pos ? -1 : (x->pos > y->pos);
}

/* d->namespaces from the definitions seen, in index order, and the
 * index -> position map values use. */
static int list_namespaces(struct decoder *dc)
{
	struct nvs_decode *d = dc->d;

	d->namespaces = calloc(NS_COUNT, sizeof(*d->namespaces));
	if (!d->namespaces)
		return NVS_ENOMEM;
	for (unsigned i = 1; i < NS_COUNT; i++) {
		if (!dc->ns_defined[i])
			continue;
		d->namespaces[d->namespace_count].index = (uint8_t)i;
		memcpy(d->namespaces[d->namespace_count].name, dc->ns_name[i], sizeof(dc->ns_name[i]));
		d->namespaces[d->namespace_count].item = NULL;
		for (size_t j = 0; j < d->item_count; j++)
			if (d->items[j].crc_ok && d->items[j].ns_index == 0 && d->items[j].type == NVS_DECODE_U8 &&
			    d->items[j].u == i) {
				d->namespaces[d->namespace_count].item = &d->items[j];
				break;
			}
		d->namespace_count++;
		dc->ns_pos[i] = (unsigned)d->namespace_count;
	}

	return 0;
}

/* Duplicates: sort indices by (ns, key, position); later ones are shadowed. */
static int mark_duplicates(struct decoder *dc)
{
	struct nvs_decode *d = dc->d;
	struct value_order *order = NULL;
	int rc = 0;

	if (d->value_count < 2)
		return 0;
	order = malloc(d->value_count * sizeof(*order));
	if (!order)
		return NVS_ENOMEM;
	for (size_t j = 0; j < d->value_count; j++) {
		order[j].ns_index = d->values[j].ns_index;
		order[j].key = d->values[j].key;
		order[j].pos = j;
	}
	qsort(order, d->value_count, sizeof(*order), cmp_value_key);
	for (size_t g = 0, e; g < d->value_count; g = e) {
		size_t win = SIZE_MAX;
		for (e = g + 1; e < d->value_count && order[e].ns_index == order[g].ns_index &&
				!strcmp(order[e].key, order[g].key);
		     e++)
			;
		if (e - g == 1)
			continue;
		/* What the device reads: loading an ACTIVE page erases an earlier
		 * item with the same namespace and key on that page (nvs_page.cpp,
		 * duplicate detection), then lookups take the first match in page
		 * order. */
		for (size_t k = g; k < e && win == SIZE_MAX; k++) {
			const struct nvs_decode_item *it = d->values[order[k].pos].item;
			bool erased = false;
			for (size_t m = k + 1; m < e && !erased; m++)
				erased = d->values[order[m].pos].item->page == it->page &&
					 d->pages[it->page].state == NVS_DECODE_PAGE_ACTIVE;
			if (!erased)
				win = order[k].pos;
		}
		for (size_t k = g; k < e; k++) {
			struct nvs_decode_value *b = &d->values[order[k].pos];
			if (order[k].pos == win)
				continue;
			b->shadowed = true;
			if ((rc = nvsd_problem(dc, NVS_DECODE_P_DUPLICATE, b->item->page, b->item->slot,
					       "page %u entry %u: key '%s' is written more than once; the device reads "
					       "page %u entry %u",
					       b->item->page, b->item->slot, b->key, d->values[win].item->page,
					       d->values[win].item->slot)))
				goto out;
		}
	}
out:
	free(order);
	return rc;
}

int nvsd_build_values(struct decoder *dc)
{
	struct nvs_decode *d = dc->d;
	bool *used = NULL;
	struct chunk_ref *refs = NULL;
	size_t nrefs = 0;
	int rc;

	if ((rc = list_namespaces(dc)))
		goto out;
	used = calloc(d->item_count ? d->item_count : 1, sizeof(*used));
	refs = malloc((d->item_count ? d->item_count : 1) * sizeof(*refs));
	if (!used || !refs) {
		rc = NVS_ENOMEM;
		goto out;
	}
	for (size_t j = 0; j < d->item_count; j++)
		if (d->items[j].type == NVS_DECODE_BLOB_DATA && d->items[j].crc_ok) {
			refs[nrefs].it = &d->items[j];
			refs[nrefs].pos = j;
			nrefs++;
		}
	qsort(refs, nrefs, sizeof(*refs), cmp_chunk_ref);
	for (size_t j = 0; j < d->item_count; j++) {
		const struct nvs_decode_item *it = &d->items[j];
		struct nvs_decode_value *v;
		if (!it->crc_ok || it->ns_index == 0 || it->type == NVS_DECODE_BLOB_DATA || !nvs_decode_type_name(it->type))
			continue;
		if ((rc = nvsd_grow((void **)&d->values, &dc->value_cap, d->value_count, sizeof(*d->values))))
			goto out;
		v = &d->values[d->value_count++];
		memset(v, 0, sizeof(*v));
		v->ns_index = it->ns_index;
		v->ns = dc->ns_pos[it->ns_index] ? d->namespaces[dc->ns_pos[it->ns_index] - 1].name : NULL;
		v->key = it->key;
		v->type = it->type;
		v->item = it;
		v->u = it->u;
		v->i = it->i;
		v->ok = it->data_crc_ok;
		if (!v->ns && (rc = nvsd_problem(dc, NVS_DECODE_P_NAMESPACE, it->page, it->slot,
						 "page %u entry %u: key '%s' is in undefined namespace index %u", it->page,
						 it->slot, it->key, it->ns_index)))
			goto out;
		if (it->type == NVS_DECODE_STR || it->type == NVS_DECODE_BLOB) {
			v->data = it->data;
			v->len = it->len;
		} else if (it->type == NVS_DECODE_BLOB_IDX && (rc = reassemble(dc, v, used, refs, nrefs))) {
			goto out;
		}
	}
	for (size_t j = 0; j < d->item_count; j++) {
		const struct nvs_decode_item *it = &d->items[j];
		if (it->type == NVS_DECODE_BLOB_DATA && it->crc_ok && !used[j] &&
		    (rc = nvsd_problem(dc, NVS_DECODE_P_BLOB, it->page, it->slot,
				       "page %u entry %u: chunk %u of blob '%s' belongs to no blob index", it->page,
				       it->slot, it->chunk_index, it->key)))
			goto out;
	}

	rc = mark_duplicates(dc);
out:
	free(refs);
	free(used);
	return rc;
}
