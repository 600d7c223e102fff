#include "lib/errno.h"

#include "lib/bits.h"

static const char *const errno_names[] = {
	[EPERM] = "operation not permitted",
	[ENOENT] = "not found",
	[EIO] = "i/o error",
	[E2BIG] = "too many arguments",
	[EAGAIN] = "try again",
	[ENOMEM] = "out of memory",
	[EFAULT] = "bad address",
	[EBUSY] = "busy",
	[EEXIST] = "already exists",
	[ENODEV] = "no such device",
	[EINVAL] = "invalid argument",
	[ENOSPC] = "no space left",
	[ERANGE] = "out of range",
	[ENOSYS] = "not implemented",
	[ENOTSUP] = "not supported",
	[ETIMEDOUT] = "timed out",
};

/* Text for a negative or positive errno; never NULL. */
const char *errno_name(int err)
{
	unsigned int e = (unsigned int)(err < 0 ? -err : err);

	if (e < ARRAY_SIZE(errno_names) && errno_names[e]) {
		return errno_names[e];
	}
	return "unknown error";
}
