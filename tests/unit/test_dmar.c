/*
 * Host tests of the DMAR parser (drivers/acpi/dmar.c): every real table in
 * ../shared/fixtures/dmar/ against MANIFEST.tsv (decoded independently by
 * iasl), the verdicts on the broken ones, truncation at every byte, and
 * hand-built malformed tables.  Run from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/acpi/acpi.h"
#include "drivers/acpi/dmar.h"
#include "lib/errno.h"

#include "tests/deadline.h"
#include "tests/unit/acpi_test_stubs.h"

#define FIXTURES "../shared/fixtures/dmar/"
#define MAX_COLS 32
#define MAX_ROWS 64

/* struct dmar is large: one shared instance, not on the stack. */
static struct dmar dm;

/* ---- fixtures and the manifest ---------------------------------------- */

struct fixture {
	char name[96];
	uint8_t *data;
	size_t len;
	char *col[MAX_COLS];
};

static char *manifest_text;
static char *header[MAX_COLS];
static unsigned int col_count;
static struct fixture fixtures[MAX_ROWS];
static unsigned int fixture_count;

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f) {
		fprintf(stderr,
			"cannot open %s (run from the repo root, with "
			"../shared/fixtures/dmar present)\n",
			path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		abort();
	}
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Splits s at every tab into out; returns the number of fields. */
static unsigned int split_tabs(char *s, char **out, unsigned int max)
{
	unsigned int n = 0;

	while (n < max) {
		out[n++] = s;
		s = strchr(s, '\t');
		if (!s) {
			break;
		}
		*s++ = '\0';
	}
	return n;
}

static const char *col(const struct fixture *f, const char *name)
{
	unsigned int i;

	for (i = 0; i < col_count; i++) {
		if (strcmp(header[i], name) == 0) {
			return f->col[i] ? f->col[i] : "";
		}
	}
	fail_msg("manifest has no column %s", name);
	return "";
}

static int load_fixtures(void **state)
{
	size_t len;
	char *line, *next;

	manifest_text = (char *)read_file(FIXTURES "MANIFEST.tsv", &len);
	if (!manifest_text) {
		return -1;
	}
	line = manifest_text;
	next = strchr(line, '\n');
	if (!next) {
		return -1;
	}
	*next++ = '\0';
	col_count = split_tabs(line, header, MAX_COLS);
	for (line = next; line && *line; line = next) {
		struct fixture *f;
		char path[256];

		if (fixture_count == MAX_ROWS) {
			return -1;
		}
		f = &fixtures[fixture_count++];
		next = strchr(line, '\n');
		if (next) {
			*next++ = '\0';
		}
		split_tabs(line, f->col, MAX_COLS);
		snprintf(f->name, sizeof(f->name), "%s", f->col[0]);
		snprintf(path, sizeof(path), FIXTURES "%s", f->name);
		f->data = read_file(path, &f->len);
		if (!f->data) {
			return -1;
		}
	}
	if (fixture_count != 45) {
		fprintf(stderr, "MANIFEST.tsv lists %u tables, not 45\n",
			fixture_count);
		return -1;
	}
	return 0;
}

static const struct fixture *fixture(const char *name)
{
	unsigned int i;

	for (i = 0; i < fixture_count; i++) {
		if (strcmp(fixtures[i].name, name) == 0) {
			return &fixtures[i];
		}
	}
	fail_msg("no fixture %s", name);
	return NULL;
}

/* Parses a fixture from an exactly sized copy, so ASan sees any overread. */
static int parse_copy(const uint8_t *data, size_t len,
		      const struct dmar_mem_map *mm)
{
	uint8_t *copy = malloc(len ? len : 1);
	int ret;

	memcpy(copy, data, len);
	ret = dmar_parse(copy, len, mm, &dm);
	free(copy);
	return ret;
}

static unsigned int scope_type_of(const char *name, size_t len)
{
	static const char *const names[] = {
		[DMAR_SCOPE_PCI_ENDPOINT] = "PCI_ENDPOINT",
		[DMAR_SCOPE_PCI_SUBHIERARCHY] = "PCI_BRIDGE",
		[DMAR_SCOPE_IOAPIC] = "IOAPIC",
		[DMAR_SCOPE_HPET] = "HPET",
		[DMAR_SCOPE_ACPI_NAMESPACE] = "ACPI_NAMESPACE",
	};
	unsigned int t;

	for (t = 1; t < 6; t++) {
		if (strlen(names[t]) == len &&
		    memcmp(names[t], name, len) == 0) {
			return t;
		}
	}
	fail_msg("unknown scope type %.*s", (int)len, name);
	return 0;
}

/* Splits a " | "-separated list into items (in place); returns the count. */
static unsigned int split_list(char *s, char **items, unsigned int max)
{
	unsigned int n = 0;

	if (*s == '\0') {
		return 0;
	}
	while (n < max) {
		char *sep = strstr(s, " | ");

		items[n++] = s;
		if (!sep) {
			break;
		}
		*sep = '\0';
		s = sep + 3;
	}
	return n;
}

static unsigned long long num_after(const char *s, const char *key)
{
	const char *p = strstr(s, key);

	assert_non_null(p);
	return strtoull(p + strlen(key), NULL, 0);
}

static void check_scope_types(struct dmar_scopes sc, const char *item)
{
	const char *p = strchr(item, '[');
	unsigned int k = 0;

	if (!p) {
		assert_int_equal(sc.count, 0);
		return;
	}
	for (p++; *p && *p != ']'; k++) {
		size_t n = strcspn(p, ",]");

		assert_true(k < sc.count);
		assert_int_equal(dm.scopes[sc.first + k].type,
				 scope_type_of(p, n));
		p += n + (p[n] == ',');
	}
	assert_int_equal(k, sc.count);
}

static void check_drhds(const struct fixture *f)
{
	char *list = strdup(col(f, "drhd_list"));
	char *items[DMAR_MAX_UNITS];
	unsigned int i, n = split_list(list, items, DMAR_MAX_UNITS);

	assert_int_equal(n, dm.unit_count);
	for (i = 0; i < n; i++) {
		const struct dmar_unit *u = &dm.units[i];
		const char *size = strstr(items[i], "size=2^");

		assert_int_equal(num_after(items[i], "seg="), u->segment);
		assert_int_equal(num_after(items[i], "base="), u->base);
		assert_int_equal(num_after(items[i], "flags="), u->flags);
		assert_int_equal(num_after(items[i], "scopes="),
				 u->scopes.count);
		assert_int_equal(size ? strtoul(size + 7, NULL, 10) : 0,
				 u->size_field);
		assert_int_equal(u->size, 0x1000ULL << u->size_field);
		check_scope_types(u->scopes, items[i]);
	}
	free(list);
}

static void check_rmrrs(const struct fixture *f)
{
	char *list = strdup(col(f, "rmrr_list"));
	char *items[DMAR_MAX_RMRRS];
	unsigned int i, n = split_list(list, items, DMAR_MAX_RMRRS);

	assert_int_equal(n, dm.rmrr_count);
	for (i = 0; i < n; i++) {
		unsigned long long base, limit;

		assert_int_equal(
			sscanf(items[i], "0x%llx-0x%llx", &base, &limit), 2);
		assert_int_equal(base, dm.rmrrs[i].base);
		assert_int_equal(limit, dm.rmrrs[i].limit);
		assert_int_equal(dm.rmrrs[i].segment, 0);
	}
	free(list);
}

static void check_devsets(const struct fixture *f, const char *column,
			  const struct dmar_devset *sets, unsigned int count)
{
	char *list = strdup(col(f, column));
	char *items[DMAR_MAX_DEVSETS];
	unsigned int i, n = split_list(list, items, DMAR_MAX_DEVSETS);

	assert_int_equal(n, count);
	for (i = 0; i < n; i++) {
		assert_int_equal(num_after(items[i], "seg="), sets[i].segment);
		assert_int_equal(num_after(items[i], "flags="), sets[i].flags);
		assert_int_equal(num_after(items[i], "scopes="),
				 sets[i].scopes.count);
	}
	free(list);
}

static void check_rhsas(const struct fixture *f)
{
	char *list = strdup(col(f, "rhsa_list"));
	char *items[DMAR_MAX_RHSAS];
	unsigned int i, n = split_list(list, items, DMAR_MAX_RHSAS);

	assert_int_equal(n, dm.rhsa_count);
	for (i = 0; i < n; i++) {
		assert_int_equal(num_after(items[i], "base="),
				 dm.rhsas[i].base);
		assert_int_equal(num_after(items[i], "pxm="),
				 dm.rhsas[i].domain);
	}
	free(list);
}

static void check_andds(const struct fixture *f)
{
	char *list = strdup(col(f, "andd_list"));
	char *items[DMAR_MAX_ANDDS];
	unsigned int i, n = split_list(list, items, DMAR_MAX_ANDDS);

	assert_int_equal(n, dm.andd_count);
	for (i = 0; i < n; i++) {
		char *eq = strchr(items[i], '=');

		assert_non_null(eq);
		assert_int_equal(strtoul(items[i], NULL, 10), dm.andds[i].id);
		assert_string_equal(eq + 1, dm.andds[i].name);
	}
	free(list);
}

/* The "scopes" column: counts by type over every structure, and multi_path. */
static void check_scope_totals(const struct fixture *f)
{
	unsigned int want[6] = {0}, got[6] = {0};
	unsigned int want_multi = 0, got_multi = 0, k;
	char *s = strdup(col(f, "scopes"));
	char *tok, *save;

	for (tok = strtok_r(s, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');

		assert_non_null(eq);
		if (strncmp(tok, "multi_path", 10) == 0) {
			want_multi = (unsigned int)strtoul(eq + 1, NULL, 10);
		} else {
			want[scope_type_of(tok, (size_t)(eq - tok))] =
				(unsigned int)strtoul(eq + 1, NULL, 10);
		}
	}
	free(s);
	for (k = 0; k < dm.scope_count; k++) {
		assert_true(dm.scopes[k].type >= 1 && dm.scopes[k].type <= 5);
		got[dm.scopes[k].type]++;
		got_multi += dm.scopes[k].path_len > 1;
	}
	assert_memory_equal(want, got, sizeof(want));
	assert_int_equal(want_multi, got_multi);
}

static void test_fixtures_match_manifest(void **state)
{
	unsigned int i;

	for (i = 0; i < fixture_count; i++) {
		const struct fixture *f = &fixtures[i];

		print_message("  %s\n", f->name);
		dmar_parse(f->data, f->len, NULL, &dm);
		assert_true(dm.header_valid);
		assert_int_equal(strtoul(col(f, "length"), NULL, 10),
				 dm.length);
		assert_int_equal(f->len, dm.length);
		assert_string_equal(col(f, "checksum_ok"), "yes");
		assert_true(acpi_checksum_ok(f->data, f->len));
		assert_int_equal(
			strtoul(col(f, "host_address_width"), NULL, 10),
			dm.haw);
		assert_int_equal(strtoul(col(f, "flags"), NULL, 16), dm.flags);
		assert_int_equal(strtoul(col(f, "revision"), NULL, 10),
				 dm.revision);
		assert_int_equal(strtoul(col(f, "n_drhd"), NULL, 10),
				 dm.unit_count);
		assert_int_equal(strtoul(col(f, "n_rmrr"), NULL, 10),
				 dm.rmrr_count);
		assert_int_equal(strtoul(col(f, "n_atsr"), NULL, 10),
				 dm.atsr_count);
		assert_int_equal(strtoul(col(f, "n_rhsa"), NULL, 10),
				 dm.rhsa_count);
		assert_int_equal(strtoul(col(f, "n_andd"), NULL, 10),
				 dm.andd_count);
		assert_int_equal(strtoul(col(f, "n_satc"), NULL, 10),
				 dm.satc_count);
		/* n_other: SIDP (type 6) plus types iasl does not know. */
		assert_int_equal(strtoul(col(f, "n_other"), NULL, 10),
				 dm.sidp_count + dm.unknown_count);
		check_drhds(f);
		check_rmrrs(f);
		check_devsets(f, "atsr_list", dm.atsrs, dm.atsr_count);
		check_devsets(f, "satc_list", dm.satcs, dm.satc_count);
		check_rhsas(f);
		check_andds(f);
		check_scope_totals(f);
	}
}

/*
 * The verdicts a careful reader gives the broken real tables (fixtures
 * README, "Odd or broken tables").  Everything not listed is used.
 */
static const struct {
	const char *file;
	char kind; /* 'u' unit, 'r' rmrr */
	unsigned int index;
	const char *reason;
} fixture_rejects[] = {
	/* INCLUDE_PCI_ALL unit with register base 0: never decoded. */
	{"lenovo-ideapadflex-15.dat", 'u', 0, "register base is zero"},
	{"lenovo-thinkpad-e15-gen2.dat", 'u', 2, "register base is zero"},
	/* RMRR 0x0-0x0: an unfilled template, and not page-granular. */
	{"hp-compaq-6730b.dat", 'r', 0, "range not 4 KiB aligned"},
	/* RMRR 0x0-0xfff: the real-mode vector page is no DMA buffer. */
	{"hp-elitebook-8440p.dat", 'r', 0, "range covers address 0"},
	{"hp-elitebook-8540p.dat", 'r', 0, "range covers address 0"},
};

static const char *expected_reason(const char *file, char kind,
				   unsigned int index)
{
	unsigned int i;

	for (i = 0; i < sizeof(fixture_rejects) / sizeof(fixture_rejects[0]);
	     i++) {
		if (strcmp(fixture_rejects[i].file, file) == 0 &&
		    fixture_rejects[i].kind == kind &&
		    fixture_rejects[i].index == index) {
			return fixture_rejects[i].reason;
		}
	}
	return "";
}

static void test_fixture_verdicts(void **state)
{
	unsigned int i, j;

	for (i = 0; i < fixture_count; i++) {
		const struct fixture *f = &fixtures[i];

		assert_int_equal(dmar_parse(f->data, f->len, NULL, &dm), 0);
		assert_true(dm.usable);
		for (j = 0; j < dm.unit_count; j++) {
			const char *want = expected_reason(f->name, 'u', j);

			assert_string_equal(dm.units[j].reason, want);
			assert_int_equal(dmar_unit_usable(&dm, j),
					 want[0] == 0);
			assert_false(dm.units[j].scopes_incomplete);
		}
		for (j = 0; j < dm.rmrr_count; j++) {
			const char *want = expected_reason(f->name, 'r', j);

			assert_string_equal(dm.rmrrs[j].reason, want);
			assert_int_equal(dmar_rmrr_usable(&dm, j),
					 want[0] == 0);
		}
		for (j = 0; j < dm.atsr_count; j++) {
			assert_true(dmar_devset_usable(&dm, &dm.atsrs[j]));
		}
		for (j = 0; j < dm.satc_count; j++) {
			assert_true(dmar_devset_usable(&dm, &dm.satcs[j]));
		}
		for (j = 0; j < dm.sidp_count; j++) {
			assert_true(dmar_devset_usable(&dm, &dm.sidps[j]));
		}
	}
}

/*
 * The units of the e15: 0 claims 00:02.0, 1 claims the bridge 00:07.0 and
 * what is below it, 2 (INCLUDE_PCI_ALL, base 0) the rest.  The rest must
 * land on the rejected unit, so callers give it no DMA.
 */
static void test_fixture_zero_base_fails_closed(void **state)
{
	const struct fixture *f = fixture("lenovo-thinkpad-e15-gen2.dat");

	acpi_test_pci_clear();
	acpi_test_pci_add_bridge(0, 0, 0x07 << 3, 2, 3);
	dmar_parse(f->data, f->len, NULL, &dm);
	assert_int_equal(dm.units[1].scopes.count, 1);
	assert_int_equal(dm.scopes[dm.units[1].scopes.first].path[0].dev, 0x07);
	assert_int_equal(dmar_unit_for_device(&dm, 0, 0, 0x02 << 3), 0);
	assert_true(dmar_unit_usable(&dm, 0));
	assert_int_equal(dmar_unit_for_device(&dm, 0, 0, 0x07 << 3), 1);
	assert_int_equal(dmar_unit_for_device(&dm, 0, 3, 0), 1);
	assert_int_equal(dmar_unit_for_device(&dm, 0, 0, 0x1f << 3), 2);
	assert_int_equal(dmar_unit_for_device(&dm, 0, 4, 0), 2);
	assert_false(dmar_unit_usable(&dm, 2));
	/* Another segment has no unit at all. */
	assert_int_equal(dmar_unit_for_device(&dm, 1, 0, 0), -ENODEV);
}

/* Eight HPET scopes share enumeration id 0: the unit is fine, the id not. */
static void test_fixture_duplicate_hpet_ids(void **state)
{
	static const char *const files[] = {
		"fujitsu-primergy.dat",
		"gigabyte-x79-up4.dat",
		"lenovo-thinkpad-x230-coreboot.dat",
	};
	const struct dmar_scope *s;
	unsigned int i, unit;

	for (i = 0; i < 3; i++) {
		const struct fixture *f = fixture(files[i]);

		acpi_test_log_clear();
		assert_int_equal(dmar_parse(f->data, f->len, NULL, &dm), 0);
		assert_true(acpi_test_log_has(
			"hpet id 0 is listed more than once"));
		assert_int_equal(
			dmar_enum_scope(&dm, DMAR_SCOPE_HPET, 0, &unit, &s),
			-EEXIST);
		assert_int_equal(
			dmar_enum_scope(&dm, DMAR_SCOPE_IOAPIC,
					dm.scopes[dm.units[dm.unit_count - 1]
							  .scopes.first]
						.enum_id,
					&unit, &s),
			0);
		assert_int_equal(unit, dm.unit_count - 1);
		assert_int_equal(s->type, DMAR_SCOPE_IOAPIC);
		assert_true(dmar_unit_usable(&dm, unit));
	}
}

/* VT-d 4.x register-set size: 2^4 pages each, adjacent, no overlap. */
static void test_fixture_size_field(void **state)
{
	const struct fixture *f = fixture("samsung-960qha.dat");
	unsigned int i;

	assert_int_equal(dmar_parse(f->data, f->len, NULL, &dm), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(dm.units[i].size, 0x10000);
		assert_true(dmar_unit_usable(&dm, i));
	}
}

struct lines {
	char text[16384];
	size_t len;
	unsigned int count;
};

static void collect(void *ctx, const char *line)
{
	struct lines *l = ctx;
	size_t n = strlen(line);

	assert_true(n < ACPI_LINE_MAX - 1);
	assert_null(strchr(line, '\n'));
	assert_true(l->len + n + 2 < sizeof(l->text));
	memcpy(l->text + l->len, line, n);
	l->len += n;
	l->text[l->len++] = '\n';
	l->text[l->len] = '\0';
	l->count++;
}

static unsigned int count_prefix(const char *text, const char *prefix)
{
	unsigned int n = 0;
	const char *p = text;

	while (p && *p) {
		n += strncmp(p, prefix, strlen(prefix)) == 0;
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return n;
}

static void test_fixture_format_golden(void **state)
{
	const struct fixture *f = fixture("asus-nuc14rvh-b.dat");
	static struct lines out;

	memset(&out, 0, sizeof(out));
	dmar_parse(f->data, f->len, NULL, &dm);
	dmar_format(&dm, collect, &out);
	assert_string_equal(
		out.text,
		"dmar haw 42 flags 0x5 rev 1 len 0x98\n"
		"dmar table: used\n"
		"drhd seg 0 base 0xfc800000 flags 0x0 scopes 1 size 0x1000\n"
		"  scope pci-endpoint id 0 bus 0x00 path 02.0\n"
		"drhd seg 0 base 0xfc801000 flags 0x1 scopes 2 size 0x1000\n"
		"  scope ioapic id 2 bus 0x00 path 1e.7\n"
		"  scope hpet id 0 bus 0x00 path 1e.6\n"
		"satc seg 0 flags 0x1 scopes 2\n"
		"  scope pci-endpoint id 0 bus 0x00 path 02.0\n"
		"  scope pci-endpoint id 0 bus 0x00 path 0b.0\n"
		"sidp seg 0 scopes 2\n"
		"  scope pci-endpoint id 0 bus 0x00 path 02.0 flags 0x1f\n"
		"  scope pci-endpoint id 0 bus 0x00 path 0b.0 flags 0x1c\n"
		"unit 0 base 0xfc800000: used\n"
		"unit 1 base 0xfc801000: used\n"
		"satc 0 seg 0: used\n"
		"sidp 0 seg 0: used\n");
}

/* Every fixture prints the contract lines, one per structure. */
static void test_fixture_format_contract(void **state)
{
	static struct lines out;
	unsigned int i, j;
	char want[160];

	for (i = 0; i < fixture_count; i++) {
		const struct fixture *f = &fixtures[i];

		memset(&out, 0, sizeof(out));
		dmar_parse(f->data, f->len, NULL, &dm);
		dmar_format(&dm, collect, &out);
		snprintf(want, sizeof(want), "dmar haw %u flags 0x%x ",
			 dm.haw + 1, dm.flags);
		assert_int_equal(strncmp(out.text, want, strlen(want)), 0);
		assert_int_equal(count_prefix(out.text, "drhd seg "),
				 dm.unit_count);
		assert_int_equal(count_prefix(out.text, "rmrr seg "),
				 dm.rmrr_count);
		assert_int_equal(count_prefix(out.text, "atsr seg "),
				 dm.atsr_count);
		assert_int_equal(count_prefix(out.text, "rhsa base "),
				 dm.rhsa_count);
		assert_int_equal(count_prefix(out.text, "andd id "),
				 dm.andd_count);
		assert_int_equal(count_prefix(out.text, "satc seg "),
				 dm.satc_count);
		assert_int_equal(count_prefix(out.text, "  scope "),
				 dm.scope_count);
		for (j = 0; j < dm.unit_count; j++) {
			const struct dmar_unit *u = &dm.units[j];

			snprintf(want, sizeof(want),
				 "\ndrhd seg %u base 0x%llx flags 0x%x scopes "
				 "%u",
				 u->segment, (unsigned long long)u->base,
				 u->flags, u->scopes.count);
			assert_non_null(strstr(out.text, want));
			if (u->reason[0]) {
				snprintf(want, sizeof(want),
					 "\nunit %u base 0x%llx: rejected "
					 "(%s)\n",
					 j, (unsigned long long)u->base,
					 u->reason);
			} else {
				snprintf(want, sizeof(want),
					 "\nunit %u base 0x%llx: used\n", j,
					 (unsigned long long)u->base);
			}
			assert_non_null(strstr(out.text, want));
		}
		for (j = 0; j < dm.rmrr_count; j++) {
			snprintf(want, sizeof(want),
				 "\nrmrr seg 0 base 0x%llx limit 0x%llx scopes "
				 "%u\n",
				 (unsigned long long)dm.rmrrs[j].base,
				 (unsigned long long)dm.rmrrs[j].limit,
				 dm.rmrrs[j].scopes.count);
			assert_non_null(strstr(out.text, want));
		}
	}
}

static void test_fixture_andd_format(void **state)
{
	static struct lines out;

	memset(&out, 0, sizeof(out));
	dmar_parse(fixture("apple-macbookpro14-3.dat")->data,
		   fixture("apple-macbookpro14-3.dat")->len, NULL, &dm);
	dmar_format(&dm, collect, &out);
	assert_non_null(strstr(out.text, "\nandd id 1 name \\_SB.PCI0.I2C0\n"));
	assert_non_null(
		strstr(out.text,
		       "\n  scope acpi-namespace id 1 bus 0x00 path 15.0\n"));
}

/* A two-entry path, as in the ProLiants. */
static void test_fixture_multi_path_format(void **state)
{
	static struct lines out;
	const struct fixture *f = fixture("hp-proliant-dl360-g7.dat");

	memset(&out, 0, sizeof(out));
	dmar_parse(f->data, f->len, NULL, &dm);
	dmar_format(&dm, collect, &out);
	assert_non_null(strstr(
		out.text,
		"\n  scope pci-endpoint id 0 bus 0x00 path 1c.4/00.2\n"));
}

/* Truncated buffers: the header's length is past the end, every time. */
static void test_fixtures_truncated_every_offset(void **state)
{
	unsigned int i;
	size_t n;

	for (i = 0; i < fixture_count; i++) {
		const struct fixture *f = &fixtures[i];

		for (n = 0; n < f->len; n++) {
			assert_int_equal(parse_copy(f->data, n, NULL), -EINVAL);
			assert_false(dm.usable);
			assert_int_equal(dm.unit_count, 0);
			assert_true(strstr(dm.reason, "truncated") ||
				    strstr(dm.reason, "shorter"));
		}
	}
}

static void fix_checksum(uint8_t *t, uint32_t len)
{
	uint8_t sum = 0;
	uint32_t i;

	t[9] = 0;
	for (i = 0; i < len; i++) {
		sum = (uint8_t)(sum + t[i]);
	}
	t[9] = (uint8_t)-sum;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/*
 * The table cut short with a consistent header (length and checksum match
 * the cut): a cut between structures leaves a smaller valid table, a cut
 * inside one is rejected, and nothing is read past the cut.
 */
static void test_fixtures_length_cut_every_offset(void **state)
{
	unsigned int i, k;
	uint32_t n;

	for (i = 0; i < fixture_count; i++) {
		const struct fixture *f = &fixtures[i];
		uint32_t bounds[DMAR_MAX_STRUCTS + 1];
		uint32_t off = 48;
		unsigned int nb = 0;

		dmar_parse(f->data, f->len, NULL, &dm);
		for (k = 0; k < dm.struct_count; k++) {
			bounds[nb++] = off;
			off += dm.structs[k].length;
		}
		assert_int_equal(off, f->len);
		for (n = 0; n < f->len; n++) {
			uint8_t *copy = malloc(n ? n : 1);
			bool boundary = n == 48;
			int ret;

			memcpy(copy, f->data, n);
			if (n >= 48) {
				put32(copy + 4, n);
				fix_checksum(copy, n);
			}
			for (k = 0; k < nb; k++) {
				boundary |= bounds[k] == n;
			}
			ret = dmar_parse(copy, n, NULL, &dm);
			free(copy);
			if (n < 48) {
				assert_int_equal(ret, -EINVAL);
			} else if (boundary) {
				assert_int_equal(ret, 0);
			} else {
				assert_int_equal(ret, -EINVAL);
				assert_true(strstr(dm.reason, "overruns") ||
					    strstr(dm.reason, "stray") ||
					    strstr(dm.reason, "below"));
			}
		}
	}
}

static void test_fixture_bad_checksum(void **state)
{
	const struct fixture *f = fixture("dell-poweredge-r820.dat");
	uint8_t *copy = malloc(f->len);
	static struct lines out;
	unsigned int i;

	memcpy(copy, f->data, f->len);
	copy[f->len - 1] ^= 0x40;
	assert_int_equal(dmar_parse(copy, f->len, NULL, &dm), -EINVAL);
	free(copy);
	assert_string_equal(dm.reason, "bad checksum");
	/* Still parsed, for the console, but nothing in it is usable. */
	assert_int_equal(dm.unit_count, 4);
	for (i = 0; i < dm.unit_count; i++) {
		assert_false(dmar_unit_usable(&dm, i));
		assert_string_equal(dm.units[i].reason, "table rejected");
	}
	assert_false(dmar_rmrr_usable(&dm, 0));
	assert_false(dmar_devset_usable(&dm, &dm.atsrs[0]));
	memset(&out, 0, sizeof(out));
	dmar_format(&dm, collect, &out);
	assert_non_null(
		strstr(out.text, "\ndmar table: rejected (bad checksum)\n"));
	assert_non_null(strstr(
		out.text,
		"\nunit 0 base 0xcf000000: rejected (table rejected)\n"));
}

/* With a memory map: the fixture's RMRRs must be reserved, units not RAM. */
static void test_fixture_memory_map(void **state)
{
	const struct fixture *f = fixture("lenovo-thinkpad-t480.dat");
	/* RMRR 0x6f46f000-0x6f48efff and 0x7a000000-0x7c7fffff. */
	struct dmar_mem_range good[] = {
		{0x0, 0x6f46f000, DMAR_MEM_RAM},
		{0x6f46f000, 0x10000, DMAR_MEM_RESERVED},
		{0x6f47f000, 0x10000, DMAR_MEM_RESERVED},
		{0x6f48f000, 0x1000000, DMAR_MEM_RAM},
		{0x7a000000, 0x2800000, DMAR_MEM_RESERVED},
		{0xfed00000, 0x100000, DMAR_MEM_RESERVED},
	};
	struct dmar_mem_range bad[] = {
		{0x0, 0x6f470000, DMAR_MEM_RAM},
		{0x7a000000, 0x2000000, DMAR_MEM_RESERVED},
		{0xfed91000, 0x1000, DMAR_MEM_RAM},
	};
	struct dmar_mem_map mm = {good, 6};

	assert_int_equal(dmar_parse(f->data, f->len, &mm, &dm), 0);
	assert_true(dmar_unit_usable(&dm, 0));
	assert_true(dmar_unit_usable(&dm, 1));
	assert_true(dmar_rmrr_usable(&dm, 0));
	assert_true(dmar_rmrr_usable(&dm, 1));
	mm = (struct dmar_mem_map){bad, 3};
	assert_int_equal(dmar_parse(f->data, f->len, &mm, &dm), 0);
	assert_true(dmar_unit_usable(&dm, 0));
	assert_string_equal(dm.units[1].reason, "registers inside RAM");
	assert_string_equal(dm.rmrrs[0].reason, "range inside RAM");
	assert_string_equal(dm.rmrrs[1].reason,
			    "range not reserved in the memory map");
}

/*
 * The table QEMU 7.2 builds for "make run" (q35, intel-iommu,intremap=on,
 * edu at 00:01.0, a pcie-root-port at 00:02.0 with an edu behind it), as
 * read from guest memory: no INCLUDE_PCI_ALL, every device listed.
 */
static const uint8_t qemu_dmar[] = {
	0x44, 0x4d, 0x41, 0x52, 0x78, 0x00, 0x00, 0x00, 0x01, 0x0c, 0x42, 0x4f,
	0x43, 0x48, 0x53, 0x20, 0x42, 0x58, 0x50, 0x43, 0x20, 0x20, 0x20, 0x20,
	0x01, 0x00, 0x00, 0x00, 0x42, 0x58, 0x50, 0x43, 0x01, 0x00, 0x00, 0x00,
	0x26, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x48, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd9, 0xfe,
	0x00, 0x00, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00,
	0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00,
	0x00, 0x00, 0x01, 0x00, 0x02, 0x08, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
	0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x00, 0x01, 0x08, 0x00, 0x00,
	0x00, 0x00, 0x1f, 0x02, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x03,
};

static void test_qemu_table(void **state)
{
	static struct lines out;

	acpi_test_pci_clear();
	acpi_test_pci_add_bridge(0, 0, 0x02 << 3, 1, 1);
	assert_int_equal(parse_copy(qemu_dmar, sizeof(qemu_dmar), NULL), 0);
	memset(&out, 0, sizeof(out));
	dmar_format(&dm, collect, &out);
	assert_string_equal(
		out.text,
		"dmar haw 39 flags 0x1 rev 1 len 0x78\n"
		"dmar table: used\n"
		"drhd seg 0 base 0xfed90000 flags 0x0 scopes 7 size 0x1000\n"
		"  scope ioapic id 0 bus 0xff path 00.0\n"
		"  scope pci-endpoint id 0 bus 0x00 path 00.0\n"
		"  scope pci-endpoint id 0 bus 0x00 path 01.0\n"
		"  scope pci-subhierarchy id 0 bus 0x00 path 02.0\n"
		"  scope pci-endpoint id 0 bus 0x00 path 1f.0\n"
		"  scope pci-endpoint id 0 bus 0x00 path 1f.2\n"
		"  scope pci-endpoint id 0 bus 0x00 path 1f.3\n"
		"unit 0 base 0xfed90000: used\n");
	assert_int_equal(dmar_unit_for_device(&dm, 0, 0, 0x01 << 3), 0);
	assert_int_equal(dmar_unit_for_device(&dm, 0, 0, 0x02 << 3), 0);
	assert_int_equal(dmar_unit_for_device(&dm, 0, 1, 0), 0);
	/* Not listed and no INCLUDE_PCI_ALL unit: no unit translates it. */
	assert_int_equal(dmar_unit_for_device(&dm, 0, 0, 0x03 << 3), -ENODEV);
}

/* ---- hand-built tables ------------------------------------------------- */

struct tb {
	uint8_t b[65536 + 1024];
	uint32_t len;
};

static struct tb tb;

static void tb_u8(uint8_t v)
{
	assert_true(tb.len < sizeof(tb.b));
	tb.b[tb.len++] = v;
}

static void tb_u16(uint16_t v)
{
	tb_u8((uint8_t)v);
	tb_u8((uint8_t)(v >> 8));
}

static void tb_u32(uint32_t v)
{
	tb_u16((uint16_t)v);
	tb_u16((uint16_t)(v >> 16));
}

static void tb_u64(uint64_t v)
{
	tb_u32((uint32_t)v);
	tb_u32((uint32_t)(v >> 32));
}

static void tb_init(uint8_t haw, uint8_t flags)
{
	memset(&tb, 0, sizeof(tb));
	memcpy(tb.b, "DMAR", 4);
	tb.b[8] = 1;
	memcpy(tb.b + 10, "MOAT  TESTTEST", 14);
	tb.b[36] = haw;
	tb.b[37] = flags;
	tb.len = 48;
}

static uint32_t tb_begin(uint16_t type)
{
	uint32_t off = tb.len;

	tb_u16(type);
	tb_u16(0);
	return off;
}

/* Sets the structure's length to what was written since tb_begin(). */
static void tb_end(uint32_t off)
{
	tb.b[off + 2] = (uint8_t)(tb.len - off);
	tb.b[off + 3] = (uint8_t)((tb.len - off) >> 8);
}

static uint32_t tb_drhd(uint8_t flags, uint8_t size, uint16_t seg,
			uint64_t base)
{
	uint32_t off = tb_begin(DMAR_TYPE_DRHD);

	tb_u8(flags);
	tb_u8(size);
	tb_u16(seg);
	tb_u64(base);
	return off;
}

static uint32_t tb_rmrr(uint16_t seg, uint64_t base, uint64_t limit)
{
	uint32_t off = tb_begin(DMAR_TYPE_RMRR);

	tb_u16(0);
	tb_u16(seg);
	tb_u64(base);
	tb_u64(limit);
	return off;
}

static uint32_t tb_devset(uint16_t type, uint8_t flags, uint16_t seg)
{
	uint32_t off = tb_begin(type);

	tb_u8(flags);
	tb_u8(0);
	tb_u16(seg);
	return off;
}

/* A scope whose path has n (dev, fn) entries, given as 2n ints. */
static void tb_scope(uint8_t type, uint8_t id, uint8_t bus, unsigned int n, ...)
{
	va_list ap;
	unsigned int i;

	tb_u8(type);
	tb_u8((uint8_t)(6 + 2 * n));
	tb_u16(0);
	tb_u8(id);
	tb_u8(bus);
	va_start(ap, n);
	for (i = 0; i < 2 * n; i++) {
		tb_u8((uint8_t)va_arg(ap, int));
	}
	va_end(ap);
}

static void tb_unit(uint8_t flags, uint16_t seg, uint64_t base)
{
	tb_end(tb_drhd(flags, 0, seg, base));
}

static void tb_unit_ep(uint16_t seg, uint64_t base, uint8_t bus, uint8_t dev,
		       uint8_t fn)
{
	uint32_t off = tb_drhd(0, 0, seg, base);

	tb_scope(DMAR_SCOPE_PCI_ENDPOINT, 0, bus, 1, dev, fn);
	tb_end(off);
}

static void tb_finish(void)
{
	put32(tb.b + 4, tb.len);
	fix_checksum(tb.b, tb.len);
}

static int tb_parse(const struct dmar_mem_map *mm)
{
	tb_finish();
	return parse_copy(tb.b, tb.len, mm);
}

/* A struct dmar that was never parsed is never shown as used. */
static void test_format_unparsed(void **state)
{
	static struct lines out;

	memset(&dm, 0, sizeof(dm));
	memset(&out, 0, sizeof(out));
	dmar_format(&dm, collect, &out);
	assert_string_equal(out.text, "dmar table: rejected (not parsed)\n");
	assert_false(dmar_unit_usable(&dm, 0));
}

static void test_header_errors(void **state)
{
	assert_int_equal(dmar_parse(NULL, 0, NULL, &dm), -EINVAL);
	assert_false(dm.header_valid);
	tb_init(38, 1);
	assert_int_equal(parse_copy(tb.b, 47, NULL), -EINVAL);
	assert_string_equal(dm.reason,
			    "47 bytes, shorter than the DMAR header");
	tb_init(38, 1);
	memcpy(tb.b, "DMAX", 4);
	assert_int_equal(tb_parse(NULL), -EINVAL);
	assert_string_equal(dm.reason, "signature is not DMAR");
	tb_init(38, 1);
	tb_finish();
	put32(tb.b + 4, 40);
	fix_checksum(tb.b, 48);
	assert_int_equal(parse_copy(tb.b, 48, NULL), -EINVAL);
	assert_string_equal(dm.reason,
			    "length 0x28 is shorter than the DMAR header");
	/* An empty table is well-formed; it names no unit. */
	tb_init(38, 1);
	assert_int_equal(tb_parse(NULL), 0);
	assert_int_equal(dm.unit_count, 0);
	assert_int_equal(dmar_unit_for_device(&dm, 0, 0, 0), -ENODEV);
	assert_int_equal(dmar_probe_units(&dm), -ENODEV);
}

static void test_structure_lengths(void **state)
{
	uint32_t off;

	/* Length zero would never advance. */
	tb_init(38, 1);
	tb_unit(1, 0, 0xfed90000);
	tb_begin(DMAR_TYPE_DRHD);
	tb_u32(0);
	assert_int_equal(tb_parse(NULL), -EINVAL);
	assert_string_equal(dm.reason,
			    "drhd at offset 0x40: length 0x0 is below 4");
	assert_string_equal(dm.units[0].reason, "table rejected");

	/* Past the end of the table. */
	tb_init(38, 1);
	tb_unit(1, 0, 0xfed90000);
	off = tb_drhd(0, 0, 0, 0xfed91000);
	tb_scope(DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 1, 2, 0);
	tb_end(off);
	tb.b[off + 2] += 8;
	assert_int_equal(tb_parse(NULL), -EINVAL);
	assert_string_equal(
		dm.reason,
		"drhd at offset 0x40: length 0x20 overruns the table");
	assert_int_equal(dm.unit_count, 1);

	/* Shorter than its fixed fields. */
	tb_init(38, 1);
	off = tb_begin(DMAR_TYPE_RMRR);
	tb_u64(0);
	tb_end(off);
	assert_int_equal(tb_parse(NULL), -EINVAL);
	assert_string_equal(dm.reason,
			    "rmrr at offset 0x30: length 0xc is below 0x18");

	/* Trailing bytes that cannot hold a structure header. */
	tb_init(38, 1);
	tb_unit(1, 0, 0xfed90000);
	tb_u16(0);
	assert_int_equal(tb_parse(NULL), -EINVAL);
	assert_string_equal(dm.reason, "2 stray bytes at offset 0x40");
}

static void test_unknown_types_skipped(void **state)
{
	static struct lines out;
	uint32_t off;

	tb_init(38, 1);
	off = tb_begin(7);
	tb_u32(0xdeadbeef);
	tb_end(off);
	tb_unit(1, 0, 0xfed90000);
	off = tb_begin(0x1234);
	tb_end(off);
	assert_int_equal(tb_parse(NULL), 0);
	assert_int_equal(dm.unknown_count, 2);
	assert_int_equal(dm.unit_count, 1);
	assert_true(dmar_unit_usable(&dm, 0));
	memset(&out, 0, sizeof(out));
	dmar_format(&dm, collect, &out);
	assert_string_equal(
		out.text,
		"dmar haw 39 flags 0x1 rev 1 len 0x4c\n"
		"dmar table: used\n"
		"unknown type 7 len 0x8\n"
		"drhd seg 0 base 0xfed90000 flags 0x1 scopes 0 size 0x1000\n"
		"unknown type 4660 len 0x4\n"
		"unit 0 base 0xfed90000: used\n");
}

static void check_scope_error(const char *reason)
{
	assert_int_equal(tb_parse(NULL), 0);
	assert_int_equal(dm.unit_count, 2);
	assert_string_equal(dm.units[1].reason, reason);
	assert_true(dm.units[1].scopes_incomplete);
	assert_false(dmar_unit_usable(&dm, 1));
	assert_true(dmar_unit_usable(&dm, 0));
	/*
	 * The malformed unit might claim anything: what no readable scope
	 * claims goes to it, not to the INCLUDE_PCI_ALL unit.
	 */
	assert_int_equal(dmar_unit_for_device(&dm, 0, 0, 0x1f << 3), 1);
}

static void test_scope_errors(void **state)
{
	static const struct {
		uint8_t len;
		unsigned int path;
		const char *reason;
	} cases[] = {
		{5, 0, "scope 1 length 5 is below 6"},
		{6, 0, "scope 1 has an empty path"},
		{9, 2, "scope 1 has odd length 9"},
		{12, 2, "scope 1 overruns its structure"},
		{40, 17, "scope 1 path is deeper than 16"},
	};
	unsigned int i, k;
	uint32_t off;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tb_init(38, 1);
		tb_unit(1, 0, 0xfed91000);
		off = tb_drhd(0, 0, 0, 0xfed90000);
		tb_scope(DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 1, 2, 0);
		tb_u8(DMAR_SCOPE_PCI_ENDPOINT);
		tb_u8(cases[i].len);
		tb_u32(0);
		for (k = 0; k < cases[i].path; k++) {
			tb_u16(0);
		}
		tb_end(off);
		check_scope_error(cases[i].reason);
		assert_int_equal(dm.units[1].scopes.count, 1);
	}

	/* A scope header cut by the end of its structure. */
	tb_init(38, 1);
	tb_unit(1, 0, 0xfed91000);
	off = tb_drhd(0, 0, 0, 0xfed90000);
	tb_u32(0x0801);
	tb_end(off);
	check_scope_error("scope 0 overruns its structure");

	/* Device 0x20 does not exist. */
	tb_init(38, 1);
	tb_unit(1, 0, 0xfed91000);
	off = tb_drhd(0, 0, 0, 0xfed90000);
	tb_scope(DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 2, 1, 0, 0x20, 0);
	tb_end(off);
	check_scope_error("scope 0 path entry 20.0 is invalid");

	/* In an RMRR: the RMRR is rejected, the table is fine. */
	tb_init(38, 1);
	tb_unit(1, 0, 0xfed91000);
	off = tb_rmrr(0, 0x7c000000, 0x7fffffff);
	tb_scope(DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 1, 2, 0);
	tb_u16(0x0001);
	tb_end(off);
	assert_int_equal(tb_parse(NULL), 0);
	assert_string_equal(dm.rmrrs[0].reason,
			    "scope 1 overruns its structure");
	assert_false(dmar_rmrr_usable(&dm, 0));
	assert_true(dmar_unit_usable(&dm, 0));
}

static void test_include_all_anywhere(void **state)
{
	unsigned int pos, i;

	acpi_test_pci_clear();
	for (pos = 0; pos < 3; pos++) {
		uint64_t bases[3] = {0xfed90000, 0xfed91000, 0xfed92000};
		unsigned int all = 0;

		tb_init(38, 1);
		for (i = 0; i < 3; i++) {
			if (i == pos) {
				tb_unit(DMAR_DRHD_INCLUDE_PCI_ALL, 0, bases[i]);
				all = i;
			} else {
				tb_unit_ep(0, bases[i], 0, (uint8_t)(2 + i), 0);
			}
		}
		assert_int_equal(tb_parse(NULL), 0);
		for (i = 0; i < 3; i++) {
			int want = i == pos ? (int)all : (int)i;

			assert_int_equal(
				dmar_unit_for_device(&dm, 0, 0,
						     (uint8_t)((2 + i) << 3)),
				want);
			assert_true(dmar_unit_usable(&dm, i));
		}
		assert_int_equal(dmar_unit_for_device(&dm, 0, 5, 0), (int)all);
	}
}

static void test_two_include_all_units(void **state)
{
	tb_init(38, 1);
	tb_unit(DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0xfed90000);
	tb_unit_ep(0, 0xfed92000, 0, 2, 0);
	tb_unit(DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0xfed91000);
	/* On another segment it is fine. */
	tb_unit(DMAR_DRHD_INCLUDE_PCI_ALL, 1, 0xfed93000);
	assert_int_equal(tb_parse(NULL), 0);
	assert_string_equal(dm.units[0].reason,
			    "INCLUDE_PCI_ALL also on unit 2");
	assert_string_equal(dm.units[2].reason,
			    "INCLUDE_PCI_ALL also on unit 0");
	assert_true(dmar_unit_usable(&dm, 1));
	assert_true(dmar_unit_usable(&dm, 3));
	assert_int_equal(dmar_unit_for_device(&dm, 0, 0, 2 << 3), 1);
	assert_false(dmar_unit_usable(&dm, dmar_unit_for_device(&dm, 0, 3, 0)));
	assert_int_equal(dmar_unit_for_device(&dm, 1, 3, 0), 3);
}

static void test_segments_independent(void **state)
{
	acpi_test_pci_clear();
	tb_init(38, 1);
	tb_unit_ep(1, 0xfed94000, 0, 2, 0);
	tb_unit(DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0xfed90000);
	tb_unit_ep(0, 0xfed92000, 0, 3, 0);
	tb_unit(DMAR_DRHD_INCLUDE_PCI_ALL, 1, 0xfed91000);
	tb_end(tb_rmrr(1, 0x7c000000, 0x7c0fffff));
	assert_int_equal(tb_parse(NULL), 0);
	/* 00:02.0 exists on both segments and is claimed on segment 1 only. */
	assert_int_equal(dmar_unit_for_device(&dm, 1, 0, 2 << 3), 0);
	assert_int_equal(dmar_unit_for_device(&dm, 0, 0, 2 << 3), 1);
	assert_int_equal(dmar_unit_for_device(&dm, 0, 0, 3 << 3), 2);
	assert_int_equal(dmar_unit_for_device(&dm, 1, 0, 3 << 3), 3);
	assert_int_equal(dmar_unit_for_device(&dm, 2, 0, 3 << 3), -ENODEV);
	assert_string_equal(dm.rmrrs[0].reason, "no device scope");
}

static void test_unit_registers(void **state)
{
	static const struct {
		uint64_t base;
		uint8_t size;
		const char *reason;
	} cases[] = {
		{0, 0, "register base is zero"},
		{UINT64_MAX, 0, "register base is all-ones"},
		{0xffffffff, 0, "register base is all-ones"},
		{0xfed90800, 0, "register base not 4 KiB aligned"},
		{0xfffffffffffff000ULL, 1, "registers wrap past 2^64"},
		{0x80000000, 0, "registers inside RAM"},
		{0x7ffff000, 1, "registers inside RAM"},
		{0xfed90000, 0, ""},
		{0xfed90000, 0xf, ""}, /* 128 MiB span, in the hole */
	};
	struct dmar_mem_range ram[] = {
		{0x80000000, 0x1000, DMAR_MEM_RAM},
		{0xfee00000, 0x1000, DMAR_MEM_RESERVED},
	};
	struct dmar_mem_map mm = {ram, 2};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tb_init(38, 1);
		tb_end(tb_drhd(DMAR_DRHD_INCLUDE_PCI_ALL, cases[i].size, 0,
			       cases[i].base));
		assert_int_equal(tb_parse(&mm), 0);
		assert_string_equal(dm.units[0].reason, cases[i].reason);
		assert_int_equal(dmar_unit_usable(&dm, 0),
				 cases[i].reason[0] == 0);
	}
}

static void test_overlapping_units(void **state)
{
	/* The same unit twice. */
	tb_init(38, 1);
	tb_unit_ep(0, 0xfed90000, 0, 2, 0);
	tb_unit(DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0xfed91000);
	tb_unit_ep(0, 0xfed90000, 0, 2, 0);
	assert_int_equal(tb_parse(NULL), 0);
	assert_string_equal(dm.units[0].reason, "registers overlap unit 2");
	assert_string_equal(dm.units[2].reason, "registers overlap unit 0");
	assert_true(dmar_unit_usable(&dm, 1));
	/* Both claim 00:02.0: ambiguous, so no unit is named. */
	assert_int_equal(dmar_unit_for_device(&dm, 0, 0, 2 << 3), -EEXIST);

	/* A 4-page register set reaching into the next unit's page. */
	tb_init(38, 1);
	tb_end(tb_drhd(0, 2, 0, 0xfed90000));
	tb_end(tb_drhd(DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0, 0xfed93000));
	tb_end(tb_drhd(0, 0, 1, 0xfed94000));
	assert_int_equal(tb_parse(NULL), 0);
	assert_string_equal(dm.units[0].reason, "registers overlap unit 1");
	assert_string_equal(dm.units[1].reason, "registers overlap unit 0");
	assert_string_equal(dm.units[2].reason, "");
}

static void test_rmrr_verdicts(void **state)
{
	static const struct {
		uint64_t base, limit;
		const char *reason;
	} cases[] = {
		{0x7c000000, 0x7bffffff, "limit below base"},
		{0x7c000000, 0x7c000000, "range not 4 KiB aligned"},
		{0x7c000800, 0x7c000fff, "range not 4 KiB aligned"},
		{0x0, 0xfff, "range covers address 0"},
		{0x10000000000ULL, 0x10000000fffULL,
		 "range beyond the host address width"},
		{0x7e000000, 0x7e000fff, "range inside RAM"},
		{0x7d000000, 0x7e000fff, "range inside RAM"},
		{0xe0000000, 0xe0000fff,
		 "range not reserved in the memory map"},
		{0x7c000000, 0x7cffffff, ""},
		{0x7c800000, 0x7d800fff,
		 "range not reserved in the memory map"},
		{0x7c000000, 0x7d7fffff, ""}, /* two adjacent ranges */
	};
	struct dmar_mem_range map[] = {
		{0x7d000000, 0x800000, DMAR_MEM_RESERVED},
		{0x7c000000, 0x1000000, DMAR_MEM_RESERVED},
		{0x7e000000, 0x2000000, DMAR_MEM_RAM},
		{0x0, 0x0, DMAR_MEM_RESERVED},
	};
	struct dmar_mem_map mm = {map, 4};
	unsigned int i;
	uint32_t off;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tb_init(38, 1); /* 39-bit host address width */
		tb_unit(DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0xfed90000);
		off = tb_rmrr(0, cases[i].base, cases[i].limit);
		tb_scope(DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 1, 0x14, 0);
		tb_end(off);
		assert_int_equal(tb_parse(&mm), 0);
		assert_string_equal(dm.rmrrs[0].reason, cases[i].reason);
		assert_int_equal(dmar_rmrr_usable(&dm, 0),
				 cases[i].reason[0] == 0);
		assert_true(dmar_unit_usable(&dm, 0));
	}
}

static void test_capacity(void **state)
{
	unsigned int i;
	uint32_t off;

	/* One unit too many. */
	tb_init(38, 1);
	for (i = 0; i <= DMAR_MAX_UNITS; i++) {
		tb_unit_ep(0, 0xf0000000 + i * 0x1000ULL, 0, 2, 0);
	}
	assert_int_equal(tb_parse(NULL), -EINVAL);
	assert_string_equal(dm.reason, "more than 64 drhd structures");
	assert_int_equal(dm.unit_count, DMAR_MAX_UNITS);
	assert_int_equal(dm.struct_count, DMAR_MAX_UNITS);

	/* One scope too many. */
	tb_init(38, 1);
	for (i = 0; i < 2; i++) {
		unsigned int k;

		off = tb_drhd(0, 0, 0, 0xfed90000 + i * 0x1000ULL);
		for (k = 0; k < DMAR_MAX_SCOPES / 2 + i; k++) {
			tb_scope(DMAR_SCOPE_PCI_ENDPOINT, 0, (uint8_t)k, 1, 2,
				 0);
		}
		tb_end(off);
	}
	assert_int_equal(tb_parse(NULL), -EINVAL);
	assert_string_equal(dm.reason, "more than 1024 device scopes");
	assert_int_equal(dm.unit_count, 1);

	/* One structure too many. */
	tb_init(38, 1);
	for (i = 0; i <= DMAR_MAX_STRUCTS; i++) {
		tb_end(tb_begin(9));
	}
	assert_int_equal(tb_parse(NULL), -EINVAL);
	assert_string_equal(dm.reason, "more than 512 structures");

	/* Too many of each other kind. */
	tb_init(38, 1);
	for (i = 0; i <= DMAR_MAX_DEVSETS; i++) {
		tb_end(tb_devset(DMAR_TYPE_SATC, 0, 0));
	}
	assert_int_equal(tb_parse(NULL), -EINVAL);
	assert_string_equal(dm.reason, "more than 32 satc structures");
}

static void test_andd_names(void **state)
{
	static struct lines out;
	uint32_t off;
	unsigned int i;

	tb_init(38, 1);
	off = tb_begin(DMAR_TYPE_ANDD);
	tb_u16(0);
	tb_u8(0);
	tb_u8(7);
	tb_u8('\\');
	tb_u8('\n');
	tb_u8(0x80);
	tb_u8('X'); /* no NUL: the name ends with the structure */
	tb_end(off);
	off = tb_begin(DMAR_TYPE_ANDD);
	tb_u32(0x09000000);
	for (i = 0; i < 100; i++) {
		tb_u8('a');
	}
	tb_u8(0);
	tb_end(off);
	acpi_test_log_clear();
	assert_int_equal(tb_parse(NULL), 0);
	assert_string_equal(dm.andds[0].name, "\\??X");
	assert_int_equal(strlen(dm.andds[1].name), DMAR_ANDD_NAME_LEN - 1);
	assert_true(acpi_test_log_has("andd id 9: name cut"));
	memset(&out, 0, sizeof(out));
	dmar_format(&dm, collect, &out);
	assert_non_null(strstr(out.text, "\nandd id 7 name \\??X\n"));
}

/*
 * Topology for the resolution tests, segment 0:
 *   00:1c.0 bridge -> bus 2..4;  02:00.0 bridge -> bus 3..3;  03:00.0 endpoint
 *   00:1d.0 endpoint (not a bridge)
 */
static void build_topology(void)
{
	acpi_test_pci_clear();
	acpi_test_pci_add_bridge(0, 0, 0x1c << 3, 2, 4);
	acpi_test_pci_add_bridge(0, 2, 0, 3, 3);
	acpi_test_pci_add_endpoint(0, 3, 0);
	acpi_test_pci_add_endpoint(0, 0, 0x1d << 3);
}

static void test_scope_resolution(void **state)
{
	struct dmar_scope s = {
		.type = DMAR_SCOPE_PCI_ENDPOINT,
		.start_bus = 0,
		.path_len = 3,
		.path = {{0x1c, 0}, {0, 0}, {0, 0}},
	};
	rid_t rid;

	build_topology();
	assert_int_equal(dmar_scope_resolve(&s, 0, &rid), 0);
	assert_int_equal(rid_bus(rid), 3);
	assert_int_equal(rid_devfn(rid), 0);
	/* Renumbered: the same scope follows the bridges. */
	acpi_test_pci_write8(0, 0, 0x1c << 3, 0x19, 5);
	acpi_test_pci_write8(0, 0, 0x1c << 3, 0x1a, 9);
	acpi_test_pci_add_bridge(0, 5, 0, 7, 7);
	assert_int_equal(dmar_scope_resolve(&s, 0, &rid), 0);
	assert_int_equal(rid_bus(rid), 7);
	/* Another segment has no such bridge. */
	assert_int_equal(dmar_scope_resolve(&s, 1, &rid), -ENODEV);

	build_topology();
	/* Through a function that is not a bridge. */
	s.path[0].dev = 0x1d;
	assert_int_equal(dmar_scope_resolve(&s, 0, &rid), -ENODEV);
	/* Through a function that is absent (all-ones). */
	s.path[0].dev = 0x1e;
	assert_int_equal(dmar_scope_resolve(&s, 0, &rid), -ENODEV);
	/* A loop: the bridge's secondary bus is its own bus. */
	s.path[0].dev = 0x1c;
	acpi_test_pci_write8(0, 0, 0x1c << 3, 0x19, 0);
	assert_int_equal(dmar_scope_resolve(&s, 0, &rid), -ENODEV);
	/* An unconfigured bridge: subordinate below secondary. */
	acpi_test_pci_write8(0, 0, 0x1c << 3, 0x19, 2);
	acpi_test_pci_write8(0, 0, 0x1c << 3, 0x1a, 1);
	assert_int_equal(dmar_scope_resolve(&s, 0, &rid), -ENODEV);
	/* A one-entry path reads nothing: IOAPIC source-ids are no function. */
	s.path_len = 1;
	s.type = DMAR_SCOPE_IOAPIC;
	s.start_bus = 0xf0;
	s.path[0] = (struct dmar_path_entry){0x1f, 0};
	assert_int_equal(dmar_scope_resolve(&s, 0, &rid), 0);
	assert_int_equal(rid_bus(rid), 0xf0);
	assert_int_equal(rid_devfn(rid), 0xf8);
	s.path_len = 0;
	assert_int_equal(dmar_scope_resolve(&s, 0, &rid), -EINVAL);
}

static void test_scope_coverage(void **state)
{
	uint32_t off;

	build_topology();
	tb_init(38, 1);
	/* Unit 0: the sub-hierarchy below 00:1c.0. */
	off = tb_drhd(0, 0, 0, 0xfed90000);
	tb_scope(DMAR_SCOPE_PCI_SUBHIERARCHY, 0, 0, 1, 0x1c, 0);
	tb_end(off);
	/* Unit 1: 03:00.0 by a three-entry path, and an absent device. */
	off = tb_drhd(0, 0, 0, 0xfed91000);
	tb_scope(DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 1, 0x1b, 0);
	tb_scope(DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 3, 0x1c, 0, 0, 0, 0, 0);
	tb_end(off);
	tb_unit(DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0xfed92000);
	off = tb_rmrr(0, 0x7c000000, 0x7cffffff);
	tb_scope(DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 2, 0x1c, 0, 0, 0);
	tb_end(off);
	off = tb_devset(DMAR_TYPE_ATSR, 0, 0);
	tb_scope(DMAR_SCOPE_PCI_SUBHIERARCHY, 0, 0, 1, 0x1c, 0);
	tb_end(off);
	assert_int_equal(tb_parse(NULL), 0);

	assert_int_equal(dmar_unit_for_device(&dm, 0, 0, 0x1c << 3), 0);
	assert_int_equal(dmar_unit_for_device(&dm, 0, 2, 0), 0);
	assert_int_equal(dmar_unit_for_device(&dm, 0, 4, 0x08), 0);
	/* Claimed both by unit 0 (below the bridge) and unit 1 (by path). */
	assert_int_equal(dmar_unit_for_device(&dm, 0, 3, 0), -EEXIST);
	assert_int_equal(dmar_unit_for_device(&dm, 0, 0, 0x1b << 3), 1);
	assert_int_equal(dmar_unit_for_device(&dm, 0, 0, 0x1d << 3), 2);
	assert_int_equal(dmar_unit_for_device(&dm, 0, 5, 0), 2);

	assert_true(dmar_rmrr_covers(&dm, 0, 0, 2, 0));
	assert_false(dmar_rmrr_covers(&dm, 0, 0, 3, 0));
	assert_false(dmar_rmrr_covers(&dm, 0, 1, 2, 0));
	assert_false(dmar_rmrr_covers(&dm, 1, 0, 2, 0));
	assert_true(dmar_devset_covers(&dm, &dm.atsrs[0], 0, 4, 0));
	assert_false(dmar_devset_covers(&dm, &dm.atsrs[0], 0, 5, 0));

	/* The bridge renumbered to 6..7: coverage follows it. */
	acpi_test_pci_write8(0, 0, 0x1c << 3, 0x19, 6);
	acpi_test_pci_write8(0, 0, 0x1c << 3, 0x1a, 7);
	assert_int_equal(dmar_unit_for_device(&dm, 0, 7, 0), 0);
	assert_int_equal(dmar_unit_for_device(&dm, 0, 2, 0), 2);
	/* The bridge gone: nothing below it is claimed by unit 0. */
	acpi_test_pci_clear();
	assert_int_equal(dmar_unit_for_device(&dm, 0, 7, 0), 2);
	assert_int_equal(dmar_unit_for_device(&dm, 0, 0, 0x1c << 3), 0);
}

static void test_enum_scopes(void **state)
{
	const struct dmar_scope *s;
	unsigned int unit;
	uint32_t off;

	tb_init(38, 1);
	off = tb_drhd(0, 0, 0, 0xfed90000);
	tb_scope(DMAR_SCOPE_IOAPIC, 8, 0xf0, 1, 0x1f, 0);
	tb_end(off);
	off = tb_drhd(DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0, 0xfed91000);
	tb_scope(DMAR_SCOPE_IOAPIC, 9, 0x00, 1, 0x05, 4);
	tb_scope(DMAR_SCOPE_HPET, 0, 0xf0, 1, 0x0f, 0);
	tb_scope(DMAR_SCOPE_IOAPIC, 8, 0xf1, 1, 0x1f, 0);
	tb_end(off);
	acpi_test_log_clear();
	assert_int_equal(tb_parse(NULL), 0);
	assert_true(acpi_test_log_has("ioapic id 8 is listed more than once"));
	assert_int_equal(dmar_enum_scope(&dm, DMAR_SCOPE_IOAPIC, 9, &unit, &s),
			 0);
	assert_int_equal(unit, 1);
	assert_int_equal(s->path[0].dev, 5);
	assert_int_equal(s->path[0].fn, 4);
	assert_int_equal(dmar_enum_scope(&dm, DMAR_SCOPE_HPET, 0, &unit, &s),
			 0);
	assert_int_equal(dmar_enum_scope(&dm, DMAR_SCOPE_IOAPIC, 8, &unit, &s),
			 -EEXIST);
	assert_int_equal(dmar_enum_scope(&dm, DMAR_SCOPE_IOAPIC, 7, &unit, &s),
			 -ENOENT);
	/* IOAPIC scopes claim no PCI function: 0xf0:1f.0 is INCLUDE_PCI_ALL's.
	 */
	assert_int_equal(dmar_unit_for_device(&dm, 0, 0xf0, 0xf8), 1);
}

static void test_probe_units(void **state)
{
	static struct lines out;

	tb_init(38, 1);
	tb_unit_ep(0, 0xfed90000, 0, 2, 0);
	tb_unit_ep(0, 0xfed91000, 0, 3, 0);
	tb_unit_ep(0, 0xfed92000, 0, 4, 0);
	tb_unit_ep(0, 0xfed93000, 0, 5, 0);
	tb_unit_ep(0, 0xfed94000, 0, 6, 0);
	tb_unit(DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0);
	assert_int_equal(tb_parse(NULL), 0);
	acpi_test_mmio_clear();
	acpi_test_mmio_add(0xfed90000, 0x10, 0x00d2008c40660462ULL);
	acpi_test_mmio_add(0xfed91000, 0, 0x00d2008c40660462ULL);
	acpi_test_mmio_add(0xfed92000, 0x10, 0);
	/* 0xfed93000 reads all-ones */
	acpi_test_mmio_fail_map(0xfed94000, -EINVAL);
	assert_int_equal(dmar_probe_units(&dm), 0);
	assert_true(dmar_unit_usable(&dm, 0));
	assert_string_equal(dm.units[1].reason,
			    "registers do not answer (VER 0x0)");
	assert_string_equal(dm.units[2].reason,
			    "registers do not answer (CAP 0x0)");
	assert_string_equal(dm.units[3].reason,
			    "registers do not answer (VER 0xffffffff)");
	assert_string_equal(dm.units[4].reason,
			    "registers cannot be mapped (-22)");
	/* The zero-base unit was never probed: its first reason stands. */
	assert_string_equal(dm.units[5].reason, "register base is zero");
	memset(&out, 0, sizeof(out));
	dmar_format(&dm, collect, &out);
	assert_non_null(strstr(out.text,
			       "\nunit 1 base 0xfed91000: rejected "
			       "(registers do not answer (VER 0x0))\n"));
	acpi_test_mmio_clear();
	assert_int_equal(dmar_probe_units(&dm), -ENODEV);
	assert_false(dmar_unit_usable(&dm, 0));
}

static void test_unit_reject(void **state)
{
	tb_init(38, 1);
	tb_unit_ep(0, 0xfed90000, 0, 2, 0);
	tb_unit(DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0xfed91000);
	assert_int_equal(tb_parse(NULL), 0);
	acpi_test_log_clear();
	dmar_unit_reject(&dm, 1, "fault reporting broken");
	dmar_unit_reject(&dm, 1, "second reason");
	dmar_unit_reject(&dm, 2, "no such unit");
	assert_string_equal(dm.units[1].reason, "fault reporting broken");
	assert_true(acpi_test_log_has(
		"unit 1 base 0xfed91000: rejected (fault reporting broken)"));
	assert_false(dmar_unit_usable(&dm, 1));
	assert_true(dmar_unit_usable(&dm, 0));
	assert_false(dmar_unit_usable(&dm, 2));
	/* Still the unit of everything unclaimed, so it fails closed. */
	assert_int_equal(dmar_unit_for_device(&dm, 0, 1, 0), 1);
}

static void test_format_hand_built(void **state)
{
	static struct lines out;
	uint32_t off;

	tb_init(45, DMAR_FLAG_INTR_REMAP | DMAR_FLAG_X2APIC_OPT_OUT);
	tb.b[8] = 2;
	off = tb_drhd(0, 0, 0, 0);
	tb_scope(DMAR_SCOPE_PCI_SUBHIERARCHY, 0, 0x80, 2, 0x03, 0, 0, 0);
	tb_scope(9, 3, 0x00, 1, 0x00, 0);
	tb_end(off);
	off = tb_rmrr(0, 0x7c000000, 0x7c0fffff);
	tb_scope(DMAR_SCOPE_PCI_ENDPOINT, 0, 0, 1, 0x14, 0);
	tb_end(off);
	off = tb_devset(DMAR_TYPE_ATSR, DMAR_ATSR_ALL_PORTS, 0);
	tb_end(off);
	off = tb_begin(DMAR_TYPE_RHSA);
	tb_u32(0);
	tb_u64(0xfed90000);
	tb_u32(1);
	tb_end(off);
	tb_unit(DMAR_DRHD_INCLUDE_PCI_ALL, 0, 0xfed91000);
	assert_int_equal(tb_parse(NULL), 0);
	memset(&out, 0, sizeof(out));
	dmar_format(&dm, collect, &out);
	assert_string_equal(
		out.text,
		"dmar haw 46 flags 0x3 rev 2 len 0x9e\n"
		"dmar table: used\n"
		"drhd seg 0 base 0x0 flags 0x0 scopes 2 size 0x1000\n"
		"  scope pci-subhierarchy id 0 bus 0x80 path 03.0/00.0\n"
		"  scope type-9 id 3 bus 0x00 path 00.0\n"
		"rmrr seg 0 base 0x7c000000 limit 0x7c0fffff scopes 1\n"
		"  scope pci-endpoint id 0 bus 0x00 path 14.0\n"
		"atsr seg 0 flags 0x1 scopes 0\n"
		"rhsa base 0xfed90000 domain 1\n"
		"drhd seg 0 base 0xfed91000 flags 0x1 scopes 0 size 0x1000\n"
		"unit 0 base 0x0: rejected (register base is zero)\n"
		"unit 1 base 0xfed91000: used\n"
		"rmrr 0 base 0x7c000000: used\n"
		"atsr 0 seg 0: used\n");
	assert_true(acpi_test_log_has("rhsa base 0xfed90000 names no unit"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures_match_manifest),
		cmocka_unit_test(test_fixture_verdicts),
		cmocka_unit_test(test_fixture_zero_base_fails_closed),
		cmocka_unit_test(test_fixture_duplicate_hpet_ids),
		cmocka_unit_test(test_fixture_size_field),
		cmocka_unit_test(test_fixture_format_golden),
		cmocka_unit_test(test_fixture_format_contract),
		cmocka_unit_test(test_fixture_andd_format),
		cmocka_unit_test(test_fixture_multi_path_format),
		cmocka_unit_test(test_fixtures_truncated_every_offset),
		cmocka_unit_test(test_fixtures_length_cut_every_offset),
		cmocka_unit_test(test_fixture_bad_checksum),
		cmocka_unit_test(test_fixture_memory_map),
		cmocka_unit_test(test_qemu_table),
		cmocka_unit_test(test_format_unparsed),
		cmocka_unit_test(test_header_errors),
		cmocka_unit_test(test_structure_lengths),
		cmocka_unit_test(test_unknown_types_skipped),
		cmocka_unit_test(test_scope_errors),
		cmocka_unit_test(test_include_all_anywhere),
		cmocka_unit_test(test_two_include_all_units),
		cmocka_unit_test(test_segments_independent),
		cmocka_unit_test(test_unit_registers),
		cmocka_unit_test(test_overlapping_units),
		cmocka_unit_test(test_rmrr_verdicts),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_andd_names),
		cmocka_unit_test(test_scope_resolution),
		cmocka_unit_test(test_scope_coverage),
		cmocka_unit_test(test_enum_scopes),
		cmocka_unit_test(test_probe_units),
		cmocka_unit_test(test_unit_reject),
		cmocka_unit_test(test_format_hand_built),
	};

	return deadline_run_group_tests(tests, load_fixtures, NULL);
}
