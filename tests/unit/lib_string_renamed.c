/*
 * The kernel's lib/string.c under other names, so that the host test can
 * call it beside the C library's functions of the same standard names.
 */
#define memcpy	lib_memcpy
#define memmove lib_memmove
#define memset	lib_memset
#define memcmp	lib_memcmp
#define strlen	lib_strlen
#define strnlen lib_strnlen
#define strcmp	lib_strcmp
#define strncmp lib_strncmp
#define strchr	lib_strchr
#include "lib/string.c"
