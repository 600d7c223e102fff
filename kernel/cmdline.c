#include "kernel/cmdline.h"

#include <stdbool.h>

#include "lib/errno.h"
#include "lib/string.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int cmdline_get(const char *cmdline, const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);
	const char *p = cmdline;
	int ret = -ENOENT;

	while (*p) {
		const char *word = p;
		bool quoted = false;
		size_t n = 0;

		while (is_space(*p)) {
			p++;
		}
		word = p;
		if (!*p) {
			break;
		}
		/* Skip the word, honouring quotes, to find where it ends. */
		while (*p && (quoted || !is_space(*p))) {
			if (*p == '"') {
				quoted = !quoted;
			}
			p++;
		}
		if (strncmp(word, key, klen) != 0 ||
		    (word[klen] != '=' && word + klen != p)) {
			continue;
		}
		if (quoted) {
			return -EINVAL;
		}
		ret = 0;
		if (size == 0) {
			continue; /* the caller only asks whether key is there
				   */
		}
		if (word + klen == p) {
			buf[0] = '\0';
			continue;
		}
		/* Copy the value without its quotes. */
		for (word += klen + 1; word < p; word++) {
			if (*word == '"') {
				continue;
			}
			if (n + 1 >= size) {
				return -E2BIG;
			}
			buf[n++] = *word;
		}
		buf[n] = '\0';
	}
	return ret;
}
