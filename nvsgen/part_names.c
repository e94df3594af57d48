/* Type and subtype keywords: the reference's TYPES and SUBTYPES dicts, in
 * their insertion order (it decides which keyword the CSV writer prints and
 * the order of "Known keywords" in errors), plus --extra-partition-subtypes. */
#include <stdlib.h>
#include <string.h>

#include "part_priv.h"

static const struct part_kw builtin_types[] = {
	{"bootloader", PART_TYPE_BOOTLOADER},
	{"partition_table", PART_TYPE_PARTITION_TABLE},
	{"app", PART_TYPE_APP},
	{"data", PART_TYPE_DATA},
};

static const struct part_kw sub_app[] = {
	{"factory", 0x00}, {"test", 0x20},
	/* added by PartitionDefinition's class body: ota_0..ota_15, tee_0..tee_1 */
	{"ota_0", 0x10}, {"ota_1", 0x11}, {"ota_2", 0x12}, {"ota_3", 0x13},
	{"ota_4", 0x14}, {"ota_5", 0x15}, {"ota_6", 0x16}, {"ota_7", 0x17},
	{"ota_8", 0x18}, {"ota_9", 0x19}, {"ota_10", 0x1a}, {"ota_11", 0x1b},
	{"ota_12", 0x1c}, {"ota_13", 0x1d}, {"ota_14", 0x1e}, {"ota_15", 0x1f},
	{"tee_0", 0x30}, {"tee_1", 0x31},
};

static const struct part_kw sub_data[] = {
	{"ota", 0x00}, {"phy", 0x01}, {"nvs", 0x02}, {"coredump", 0x03},
	{"nvs_keys", 0x04}, {"efuse", 0x05}, {"undefined", 0x06}, {"esphttpd", 0x80},
	{"fat", 0x81}, {"spiffs", 0x82}, {"littlefs", 0x83}, {"tee_ota", 0x90},
};

static const struct part_kw sub_bootloader[] = {
	{"primary", 0x00}, {"ota", 0x01}, {"recovery", 0x02},
};

static const struct part_kw sub_table[] = {
	{"primary", 0x00}, {"ota", 0x01},
};

#define NTYPES 4u
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct part_names {
	struct part_kw *kw[NTYPES]; /* indexed by type value 0..3 */
	size_t n[NTYPES];
	char **owned;               /* names added by add_extra */
	size_t nowned;
};

static size_t builtin_subtypes(unsigned type, const struct part_kw **out)
{
	switch (type) {
	case PART_TYPE_APP: *out = sub_app; return COUNT(sub_app);
	case PART_TYPE_DATA: *out = sub_data; return COUNT(sub_data);
	case PART_TYPE_BOOTLOADER: *out = sub_bootloader; return COUNT(sub_bootloader);
	case PART_TYPE_PARTITION_TABLE: *out = sub_table; return COUNT(sub_table);
	default: break;
	}
	*out = NULL;
	return 0;
}

struct part_names *part_names_new(void)
{
	struct part_names *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	for (unsigned t = 0; t < NTYPES; t++) {
		const struct part_kw *b;
		size_t cnt = builtin_subtypes(t, &b);
		n->kw[t] = malloc(cnt * sizeof(*n->kw[t]));
		if (!n->kw[t]) {
			part_names_free(n);
			return NULL;
		}
		memcpy(n->kw[t], b, cnt * sizeof(*b));
		n->n[t] = cnt;
	}
	return n;
}

void part_names_free(struct part_names *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nowned; i++)
		free(n->owned[i]);
	free(n->owned);
	for (unsigned t = 0; t < NTYPES; t++)
		free(n->kw[t]);
	free(n);
}

size_t part_names_types(const struct part_names *n, const struct part_kw **out)
{
	(void)n; /* the reference never extends TYPES */
	*out = builtin_types;
	return COUNT(builtin_types);
}

size_t part_names_subtypes(const struct part_names *n, unsigned type, const struct part_kw **out)
{
	if (!n)
		return builtin_subtypes(type, out);
	if (type >= NTYPES) {
		*out = NULL;
		return 0;
	}
	*out = n->kw[type];
	return n->n[type];
}

int part_names_is_any_subtype(const struct part_names *n, const char *name)
{
	for (unsigned t = 0; t < NTYPES; t++) {
		const struct part_kw *kw;
		size_t cnt = part_names_subtypes(n, t, &kw);
		for (size_t i = 0; i < cnt; i++)
			if (!strcmp(kw[i].name, name))
				return 1;
	}
	return 0;
}

const char *part_type_name(const struct part_names *n, unsigned type)
{
	const struct part_kw *kw;
	size_t cnt = part_names_types(n, &kw);

	for (size_t i = 0; i < cnt; i++)
		if (kw[i].value == type)
			return kw[i].name;
	return NULL;
}

const char *part_subtype_name(const struct part_names *n, unsigned type, unsigned subtype)
{
	const struct part_kw *kw;
	size_t cnt = part_names_subtypes(n, type, &kw);

	for (size_t i = 0; i < cnt; i++)
		if (kw[i].value == subtype)
			return kw[i].name;
	return NULL;
}

int part_type_value(const struct part_names *n, const char *name)
{
	const struct part_kw *kw;
	size_t cnt = part_names_types(n, &kw);

	for (size_t i = 0; i < cnt; i++)
		if (!strcmp(kw[i].name, name))
			return (int)kw[i].value;
	return -1;
}

int part_subtype_value(const struct part_names *n, unsigned type, const char *name)
{
	const struct part_kw *kw;
	size_t cnt = part_names_subtypes(n, type, &kw);

	for (size_t i = 0; i < cnt; i++)
		if (!strcmp(kw[i].name, name))
			return (int)kw[i].value;
	return -1;
}

/* add_extra_subtypes(): fields split on ',' and stripped; the value is
 * int(x, 16); a value the type already has is refused (the reference raises
 * an uncaught ValueError there); a known name is re-pointed in place. */
int part_names_add_extra(struct part_names *n, const char *spec, struct part_err *err)
{
	char *copy = NULL, *fields[3] = {NULL, NULL, NULL}, *name = NULL;
	size_t nf = 0;
	int64_t value;
	int type, rc = PART_EINVAL;
	char *p, *next;

	part_err_clear(err);
	if (!n || !spec) {
		part_err_set(err, PART_EINVAL, 0, -1, "Error parsing custom subtypes: no registry or spec");
		goto out;
	}
	copy = strdup(spec);
	if (!copy) {
		rc = PART_ENOMEM;
		part_err_set(err, rc, 0, -1, "out of memory");
		goto out;
	}
	for (p = copy; p && nf < 3; p = next) {
		size_t len;
		const char *f;
		next = strchr(p, ',');
		if (next)
			*next++ = '\0';
		len = strlen(p);
		f = part_strip(p, &len);
		memmove(p, f, len);
		p[len] = '\0';
		fields[nf++] = p;
	}
	if (nf < 3) {
		part_err_set(err, PART_EINVAL, 0, -1,
			     "Error parsing custom subtypes: '%s' is not TYPE,NAME,VALUE", spec);
		goto out;
	}
	type = part_type_value(n, fields[0]);
	if (type < 0) {
		part_err_set(err, PART_EINVAL, 0, -1,
			     "Error parsing custom subtypes: Invalid partition type '%s' in '%s'", fields[0], spec);
		goto out;
	}
	if (part_pyint(fields[2], 16, &value) != 0 || value < 0 || value > 0xFF) {
		part_err_set(err, PART_EINVAL, 0, -1,
			     "Error parsing custom subtypes: value '%s' in '%s' is not a hex number 0-0xff", fields[2],
			     spec);
		goto out;
	}
	for (size_t i = 0; i < n->n[type]; i++) {
		if (n->kw[type][i].value == (unsigned)value) {
			part_err_set(err, PART_EINVAL, 0, -1,
				     "Error parsing custom subtypes: Found duplicate value in partition subtype: "
				     "'%s' uses 0x%x, already %s subtype '%s'",
				     spec, (unsigned)value, fields[0], n->kw[type][i].name);
			goto out;
		}
	}
	for (size_t i = 0; i < n->n[type]; i++) {
		if (!strcmp(n->kw[type][i].name, fields[1])) {
			n->kw[type][i].value = (unsigned)value;
			rc = 0;
			goto out;
		}
	}
	{
		struct part_kw *kw = realloc(n->kw[type], (n->n[type] + 1) * sizeof(*kw));
		char **owned;
		if (kw)
			n->kw[type] = kw;
		owned = realloc(n->owned, (n->nowned + 1) * sizeof(*owned));
		if (owned)
			n->owned = owned;
		name = strdup(fields[1]);
		if (!kw || !owned || !name) {
			rc = PART_ENOMEM;
			part_err_set(err, rc, 0, -1, "out of memory");
			goto out;
		}
		n->owned[n->nowned++] = name;
		n->kw[type][n->n[type]].name = name;
		n->kw[type][n->n[type]].value = (unsigned)value;
		n->n[type]++;
		name = NULL;
	}
	rc = 0;
out:
	free(name);
	free(copy);
	return rc;
}
