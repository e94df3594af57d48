/* ROM serial bootloader commands (ESP32 family, ROM loader only: no stub).
 *
 * One struct rom per port: it owns the SLIP decoder, the receive buffer and
 * the diagnostics of the last failure. No globals: N contexts on N ports run
 * in parallel threads. A context does not own its port (the caller closes it
 * after rom_free). Only port_cancel() on the port may come from another
 * thread; every rom_* call then returns ROM_ECANCELED promptly.
 *
 * Every function returns 0 or a negative ROM_E* code; the details (last
 * command, the ROM's status and error bytes verbatim, errno, a one-line
 * message, the last boot-log text) are in rom_diag(). Payload bytes are never
 * logged or copied into diagnostics (NVS images carry secrets).
 *
 * The ROM_E* codes are shared by the operations layer (flashop.h), which
 * sits directly on top of this module.
 */
#ifndef ESPFAB_ROM_H
#define ESPFAB_ROM_H

#include <stddef.h>
#include <stdint.h>

#include "espfab/port.h"

enum rom_error {
	ROM_OK = 0,
	ROM_ETIMEDOUT = -1,    /* no matching reply before the deadline */
	ROM_ECANCELED = -2,    /* port_cancel() was called */
	ROM_EIO = -3,          /* the OS reported an I/O error (errno in diag) */
	ROM_ENODEV = -4,       /* the port went away (unplugged, peer closed) */
	ROM_EINVAL = -5,       /* bad argument from the caller */
	ROM_ENOSYNC = -6,      /* no SYNC reply after every reset and attempt */
	ROM_EFAILED = -7,      /* the ROM answered with a failure status (bytes in diag) */
	ROM_EUNSUPPORTED = -8, /* the ROM rejected the command as invalid (error 0x05) */
	ROM_EPROTO = -9,       /* malformed reply (short, bad MD5 text, ...) */
	ROM_ECHIP = -10,       /* chip not recognised or not supported */
	ROM_ESECURE = -11,     /* refused: the chip is in secure download mode */
	ROM_EVERIFY = -12,     /* flash content differs from the expected data */
	ROM_ENOMEM = -13,      /* allocation failed */
	ROM_ERANGE = -14,      /* region misaligned or beyond the flash */
	ROM_ESTUB = -15,       /* a flasher stub answered, not the ROM loader */
	ROM_EFLASHID = -16,    /* the SPI flash did not answer RDID */
	ROM_ENOLINES = -17,    /* the port has no DTR/RTS lines for this reset */
	ROM_EDEFLATE = -18,    /* zlib failed on the host */
	ROM_EPORT = -19,       /* the port could not be opened */
	ROM_EENCRYPTED = -20,  /* refused: flash encryption is on, the data would be unreadable */
};

/* Short English name of a ROM_E* code ("timed out", ...). Static string. */
const char *rom_strerror(int err);
/* The code's symbol ("ROM_ETIMEDOUT") for machine-readable output. */
const char *rom_error_name(int err);

/* Commands of the ROM loader (esptool's ESP_* opcodes). */
enum rom_cmd {
	ROM_CMD_FLASH_BEGIN = 0x02,
	ROM_CMD_FLASH_DATA = 0x03,
	ROM_CMD_FLASH_END = 0x04,
	ROM_CMD_MEM_BEGIN = 0x05,
	ROM_CMD_MEM_END = 0x06,
	ROM_CMD_MEM_DATA = 0x07,
	ROM_CMD_SYNC = 0x08,
	ROM_CMD_WRITE_REG = 0x09,
	ROM_CMD_READ_REG = 0x0a,
	ROM_CMD_SPI_SET_PARAMS = 0x0b,
	ROM_CMD_SPI_ATTACH = 0x0d,
	ROM_CMD_READ_FLASH_SLOW = 0x0e,
	ROM_CMD_CHANGE_BAUDRATE = 0x0f,
	ROM_CMD_FLASH_DEFL_BEGIN = 0x10,
	ROM_CMD_FLASH_DEFL_DATA = 0x11,
	ROM_CMD_FLASH_DEFL_END = 0x12,
	ROM_CMD_SPI_FLASH_MD5 = 0x13,
	ROM_CMD_GET_SECURITY_INFO = 0x14,
};

/* ROM error bytes (second status byte) worth naming. */
#define ROM_ERR_INVALID_MSG 0x05   /* also the answer to an unknown command */
#define ROM_ERR_FAILED_ACT 0x06
#define ROM_ERR_BAD_CRC 0x07       /* data checksum mismatch: retry the block */
#define ROM_ERR_FLASH_WRITE 0x08
#define ROM_ERR_FLASH_READ 0x09
#define ROM_ERR_READ_LEN 0x0a
#define ROM_ERR_DEFLATE 0x0b

#define ROM_CHECKSUM_SEED 0xEF
#define ROM_FLASH_BLOCK 0x400      /* FLASH_WRITE_SIZE of the ROM loader */
#define ROM_READ_SLOW_BLOCK 64     /* READ_FLASH_SLOW answers 64 bytes */
#define ROM_SECTOR 0x1000
#define ROM_STATUS_LEN 4           /* status bytes on every ESP32-family ROM */
#define ROM_DEFAULT_TIMEOUT_MS 3000
#define ROM_SYNC_TIMEOUT_MS 100

/* Per-instance diagnostics of the last failure. */
struct rom_diag {
	int error;              /* ROM_E* of the last failure, 0 if none */
	uint8_t last_cmd;       /* command byte of the last request sent (0 = none) */
	int have_status;        /* 1 when status/rom_error below came from the device */
	uint8_t status;         /* the ROM's status byte, verbatim */
	uint8_t rom_error;      /* the ROM's error byte, verbatim */
	int sys_errno;          /* errno of the last ROM_EIO / ROM_EPORT, else 0 */
	char msg[224];          /* one line, no payload bytes */
	char boot_log[160];     /* last text the chip printed outside SLIP frames */
};

/* Counters for benchmarks: bytes on the wire (SLIP-encoded, both ways) and
 * the time they take at the baud rate in force when they crossed. */
struct rom_stats {
	uint64_t tx_bytes, rx_bytes;
	double wire_s;
	unsigned retries;       /* block retries and sync attempts beyond the first */
	unsigned stale;         /* replies discarded as not matching */
	unsigned unsupported;   /* commands the ROM answered as unknown (01 05) */
};

/* A decoded response frame (pointers into the frame buffer). */
struct rom_response {
	uint8_t cmd;
	uint16_t len;           /* the header's length field */
	uint32_t value;         /* the header's value field (READ_REG result) */
	const uint8_t *data;    /* data before the status bytes */
	size_t data_len;
	int have_status;
	uint8_t status, rom_error;
};

struct rom;

/* Allocate a context over port p (not owned). *out is NULL on failure. */
int rom_new(struct port *p, struct rom **out);
void rom_free(struct rom *r);                      /* rom_free(NULL) is fine */
struct port *rom_port(const struct rom *r);
const struct rom_diag *rom_diag(const struct rom *r);
const struct rom_stats *rom_stats(const struct rom *r);
/* Count a retry decided by the caller (block retries, extra connects). */
void rom_note_retry(struct rom *r);
/* Clear the diagnostics (the caller starts a new step). */
void rom_diag_clear(struct rom *r);
/* Set the diagnostics from outside (operations layer); returns err. */
int rom_fail(struct rom *r, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Pure helpers (unit tests, fuzzing). */
uint8_t rom_checksum(const uint8_t *data, size_t len);
/* Request header + data into out (8 + len bytes). Returns the size. */
size_t rom_build_request(uint8_t cmd, const uint8_t *data, uint16_t len, uint32_t chk, uint8_t *out);
/* Decode a frame as the reply to cmd whose data part is data_len bytes long
 * (status bytes follow it: read there, never at "len - 2"). Returns 0 when the
 * frame is the reply, ROM_PARSE_UNSUPPORTED when it is the ROM's answer to a
 * command it does not know (another command byte, status 01 05: the ROM
 * reuses its last header; out->cmd is that header's command), 1 when it is
 * someone else's (direction not 0x01, other command, too short for a header:
 * discard it), ROM_EPROTO when it is the reply but malformed. */
#define ROM_PARSE_UNSUPPORTED 2
int rom_parse_response(const uint8_t *frame, size_t len, uint8_t cmd, size_t data_len,
		       struct rom_response *out);

/* Send one command and wait for its reply until timeout_ms. resp_data_len
 * is the data part the command defines (0 for most). On success *resp
 * (may be NULL) points into the context's buffer until the next call.
 * A failure status becomes ROM_EFAILED / ROM_EUNSUPPORTED. */
#define ROM_DATA_LEN_AUTO ((size_t)-1) /* data = everything before the last 4 bytes */
int rom_command(struct rom *r, uint8_t cmd, const uint8_t *data, size_t len, uint32_t chk,
		size_t resp_data_len, uint32_t timeout_ms, struct rom_response *resp);

/* Discard input until quiet_ms pass with nothing, or max_ms in total. */
int rom_drain(struct rom *r, uint32_t quiet_ms, uint32_t max_ms);

/* One SYNC attempt (timeout ROM_SYNC_TIMEOUT_MS), then the ROM's extra
 * replies are drained. ROM_ESTUB if a stub answered (value 0). */
int rom_sync(struct rom *r);

int rom_read_reg(struct rom *r, uint32_t addr, uint32_t *val);
int rom_write_reg(struct rom *r, uint32_t addr, uint32_t val);

struct rom_security {
	uint32_t flags;         /* bit 0 secure boot, bit 2 secure download, bits 6/7 JTAG off */
	uint8_t flash_crypt_cnt;
	uint8_t key_purposes[7];
	int have_chip_id;       /* 0 on ESP32-S2 (12-byte reply) */
	uint32_t chip_id;
	uint32_t api_version;
};
#define ROM_SEC_SECURE_BOOT (1u << 0)
#define ROM_SEC_SECURE_DOWNLOAD (1u << 2)
#define ROM_SEC_SOFT_DIS_JTAG (1u << 6)
#define ROM_SEC_HARD_DIS_JTAG (1u << 7)
/* ROM_EUNSUPPORTED on ESP32 (the command does not exist there: the ROM then
 * needs a new SYNC, see chip_desc.resync_after_unsupported). */
int rom_get_security_info(struct rom *r, struct rom_security *out);
/* Flash encryption is on when FLASH_CRYPT_CNT has an odd number of bits set. */
int rom_security_flash_encrypted(const struct rom_security *s);

int rom_spi_attach(struct rom *r);
int rom_spi_set_params(struct rom *r, uint32_t flash_size);
/* Ask the ROM for rom_baud, then switch the host to host_baud, wait 50 ms
 * and flush (the ROM may emit garbage while switching). rom_baud differs
 * from host_baud only for the ESP32/ESP32-C2 clock corrections. */
int rom_change_baud(struct rom *r, uint32_t rom_baud, uint32_t host_baud);

/* FLASH_BEGIN / FLASH_DEFL_BEGIN: the ROM erases during this command, so
 * timeout_ms must scale with erase_size (see rom_erase_timeout_ms). */
int rom_flash_begin(struct rom *r, int deflate, uint32_t erase_size, uint32_t nblocks,
		    uint32_t block_size, uint32_t offset, int encrypted_word, uint32_t timeout_ms);
/* FLASH_DATA / FLASH_DEFL_DATA of one block (already padded by the caller
 * for plain writes). A retry must reuse seq. */
int rom_flash_data(struct rom *r, int deflate, const uint8_t *block, size_t len, uint32_t seq,
		   uint32_t timeout_ms);
/* FLASH_END / FLASH_DEFL_END: only when leaving the loader (the ROM may stop
 * answering afterwards). run_app=1 asks it to run the application. */
int rom_flash_end(struct rom *r, int deflate, int run_app, int wait_reply);
/* SPI_FLASH_MD5 of [addr, addr+size): the ROM answers 32 hex digits. */
int rom_flash_md5(struct rom *r, uint32_t addr, uint32_t size, uint8_t md5[16]);
/* READ_FLASH_SLOW: len <= 64 bytes at addr into buf. */
int rom_read_flash_slow(struct rom *r, uint32_t addr, uint8_t *buf, size_t len);

/* esptool's timeouts: erase ~40 s per MiB (3 s minimum), MD5 8 s per MiB. */
uint32_t rom_erase_timeout_ms(uint32_t size);
uint32_t rom_md5_timeout_ms(uint32_t size);

/* Name of a command byte ("FLASH_BEGIN"), "0xNN" style for unknown ones
 * is not provided: returns "?" for those. */
const char *rom_cmd_name(uint8_t cmd);
/* The ROM's error byte as text ("flash write error"), "?" if unknown. */
const char *rom_error_byte_name(uint8_t err);

#endif
