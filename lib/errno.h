#pragma once

/* Error numbers returned negated by actions (-EINVAL); values as in Linux. */
#define EPERM	  1
#define ENOENT	  2
#define EIO	  5
#define E2BIG	  7
#define EAGAIN	  11
#define ENOMEM	  12
#define EFAULT	  14
#define EBUSY	  16
#define EEXIST	  17
#define ENODEV	  19
#define EINVAL	  22
#define ENOSPC	  28
#define ERANGE	  34
#define ENOSYS	  38
#define ENOTSUP	  95
#define ETIMEDOUT 110

const char *errno_name(int err);
