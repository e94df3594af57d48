/* Internals of the ROM command module, shared by its files only:
 * rom.c (context, framing, one command and its reply), rom_cmds.c (the
 * commands), rom_names.c (names and messages). */
#ifndef ESPFAB_ROM_INT_H
#define ESPFAB_ROM_INT_H

#include <stddef.h>
#include <stdint.h>

#include "espfab/rom.h"
#include "espfab/slip.h"

/* Largest frame we accept from the device: READ_FLASH_SLOW's 64 bytes plus
 * header and status fit with room; anything bigger is noise. */
#define ROM_FRAME_MAX 1024
/* Largest request: FLASH_DATA header (16) + one block. */
#define ROM_PKT_MAX (8 + 16 + ROM_FLASH_BLOCK)

struct rom {
	struct port *port;
	struct slip_decoder dec;
	uint8_t frame[ROM_FRAME_MAX];
	uint8_t rx[2048];
	size_t rx_pos, rx_len;
	uint8_t pkt[ROM_PKT_MAX];
	uint8_t tx[SLIP_ENCODED_MAX(ROM_PKT_MAX)];
	int dirty; /* a reply may still be in flight: drain before the next command */
	int watch_banner;  /* next_frame reports the ROM's "waiting for download" */
	size_t noise_seen; /* dec.noise_len already looked at */
	struct rom_diag diag;
	struct rom_stats stats;
};

/* The port's code as a ROM_E* failure of step what (diag set). */
int rom_map_port_err(struct rom *r, int perr, const char *what);
/* Drop buffered input and the SLIP decoder's partial frame. */
void rom_forget_input(struct rom *r);
/* Next complete frame before deadline: 0 with *flen, ROM_FRAME_BANNER (the
 * ROM printed "waiting for download"), or a negative PORT_* code. */
#define ROM_FRAME_BANNER 1
int rom_next_frame(struct rom *r, uint64_t deadline, size_t *flen);
int rom_send_packet(struct rom *r, uint8_t cmd, const uint8_t *data, size_t len, uint32_t chk,
		    uint64_t deadline);

#endif
