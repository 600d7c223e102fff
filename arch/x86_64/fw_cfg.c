#include <stdint.h>

#include "lib/errno.h"
#include "lib/string.h"

#include "arch/x86_64/arch.h"
#include "arch/x86_64/cpu.h"

/*
 * QEMU's firmware configuration device, I/O-port interface
 * (QEMU docs/specs/fw_cfg.rst): write a 16-bit selector, then read bytes.
 * On a machine without it the signature check fails and nothing is read.
 */
#define FW_CFG_PORT_SEL	 0x510
#define FW_CFG_PORT_DATA 0x511
#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_FILE_DIR	 0x0019
#define FW_CFG_NAME_LEN	 56

static void fw_cfg_read_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len--) {
		*p++ = inb(FW_CFG_PORT_DATA);
	}
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

int arch_fw_cfg_read(const char *name, char *buf, size_t size, size_t *len)
{
	uint8_t sig[4], cnt[4], ent[8];
	char fname[FW_CFG_NAME_LEN];
	uint32_t n, i, fsize;

	outw(FW_CFG_PORT_SEL, FW_CFG_SIGNATURE);
	fw_cfg_read_bytes(sig, sizeof(sig));
	if (memcmp(sig, "QEMU", 4) != 0) {
		return -ENODEV;
	}
	outw(FW_CFG_PORT_SEL, FW_CFG_FILE_DIR);
	fw_cfg_read_bytes(cnt, sizeof(cnt));
	n = be32(cnt);
	/* Each entry: be32 size, be16 select, u16 reserved, name[56]. */
	for (i = 0; i < n && i < 4096; i++) {
		fw_cfg_read_bytes(ent, sizeof(ent));
		fw_cfg_read_bytes(fname, sizeof(fname));
		fname[FW_CFG_NAME_LEN - 1] = '\0';
		if (strcmp(fname, name) != 0) {
			continue;
		}
		fsize = be32(ent);
		if (fsize >= size) {
			return -E2BIG;
		}
		outw(FW_CFG_PORT_SEL, (uint16_t)(ent[4] << 8 | ent[5]));
		fw_cfg_read_bytes(buf, fsize);
		buf[fsize] = '\0';
		*len = fsize;
		return 0;
	}
	return -ENOENT;
}
