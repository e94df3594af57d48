/* simdev: a virtual ESP32-family chip running the ROM serial bootloader.
 *
 * The engine is a passive object driven by a clock it does not own: every
 * call carries the current time in nanoseconds (virtual time in the fake port,
 * CLOCK_MONOTONIC in espfab-sim). Host bytes go in with simdev_rx(); device
 * bytes come out of simdev_tx() once the modelled wire has delivered them.
 *
 * Model (see docs in README, section sim):
 *  - UART: 10 bits per byte at the current device baud in both directions.
 *  - Flash: NOR semantics (programming can only clear bits), erase in 4 KiB
 *    sectors during FLASH_BEGIN / FLASH_DEFL_BEGIN, cost per sector erased and
 *    per 256-byte page programmed.
 *  - Reset: the classic auto-program circuit (EN = RTS && !DTR, IO0 low =
 *    DTR && !RTS) with an RC delay on EN, so a momentary (1,1) never resets.
 *
 * One engine belongs to one thread at a time; there is no global state, so
 * any number of engines run side by side.
 */
#ifndef ESPFAB_SIMDEV_H
#define ESPFAB_SIMDEV_H

#include <stddef.h>
#include <stdint.h>

enum simdev_error {
	SIMDEV_OK = 0,
	SIMDEV_EINVAL = -1, /* bad configuration value */
	SIMDEV_ENOMEM = -2,
	SIMDEV_EIO = -3,    /* backing file could not be created/mapped */
};

struct simdev_err {
	int code;      /* the SIMDEV_E* value returned */
	int sys_errno; /* errno for SIMDEV_EIO, else 0 */
	char msg[192]; /* one line, names the offending value or path */
};

enum simdev_chip {
	SIMDEV_CHIP_ESP32 = 0,
	SIMDEV_CHIP_ESP32S3 = 1,
	SIMDEV_CHIP_ESP32C3 = 2,
	SIMDEV_CHIP_ESP32S2 = 3,
	SIMDEV_CHIP_ESP32C2 = 4,
	SIMDEV_CHIP_ESP32C6 = 5,
	SIMDEV_CHIP_ESP32H2 = 6,
};

enum simdev_state {
	SIMDEV_STATE_RESET = 0,    /* EN held low: silent, input discarded */
	SIMDEV_STATE_DOWNLOAD = 1, /* ROM serial loader answering */
	SIMDEV_STATE_APP = 2,      /* booted the application: loader silent */
};

/* ROM loader command bytes the engine knows. */
enum simdev_cmd {
	SIMDEV_CMD_FLASH_BEGIN = 0x02,
	SIMDEV_CMD_FLASH_DATA = 0x03,
	SIMDEV_CMD_FLASH_END = 0x04,
	SIMDEV_CMD_MEM_BEGIN = 0x05,
	SIMDEV_CMD_MEM_END = 0x06,
	SIMDEV_CMD_MEM_DATA = 0x07,
	SIMDEV_CMD_SYNC = 0x08,
	SIMDEV_CMD_WRITE_REG = 0x09,
	SIMDEV_CMD_READ_REG = 0x0a,
	SIMDEV_CMD_SPI_SET_PARAMS = 0x0b,
	SIMDEV_CMD_SPI_ATTACH = 0x0d,
	SIMDEV_CMD_READ_FLASH_SLOW = 0x0e,
	SIMDEV_CMD_CHANGE_BAUDRATE = 0x0f,
	SIMDEV_CMD_FLASH_DEFL_BEGIN = 0x10,
	SIMDEV_CMD_FLASH_DEFL_DATA = 0x11,
	SIMDEV_CMD_FLASH_DEFL_END = 0x12,
	SIMDEV_CMD_SPI_FLASH_MD5 = 0x13,
	SIMDEV_CMD_GET_SECURITY_INFO = 0x14,
};

/* ROM loader error bytes (esptool docs, "ROM Loader Errors"). */
#define SIMDEV_ROM_EINVALID 0x05  /* received message is invalid / unsupported */
#define SIMDEV_ROM_EFAILED 0x06   /* failed to act on received message */
#define SIMDEV_ROM_ECRC 0x07      /* invalid checksum in message */
#define SIMDEV_ROM_EFLASHWR 0x08  /* flash write error */
#define SIMDEV_ROM_EFLASHRD 0x09  /* flash read error */
#define SIMDEV_ROM_EREADLEN 0x0a  /* flash read length error */
#define SIMDEV_ROM_EDEFLATE 0x0b  /* deflate error */

#define SIMDEV_SYNC_REPLIES 8        /* esptool reads one SYNC reply and drains 7 */
#define SIMDEV_SYNC_VALUE 0x20120707u /* non-zero: "this is the ROM, not a stub" */
#define SIMDEV_ROM_DEFAULT_FLASH (2u * 1024 * 1024) /* until SPI_SET_PARAMS */
#define SIMDEV_MAX_FRAME (16 + 0x4000 + 64) /* biggest request frame accepted */

struct simdev_config {
	enum simdev_chip chip;
	uint8_t mac[6];
	/* Caller-owned flash of flash_size bytes (kept as is: it is the chip's
	 * current content), or NULL: the engine allocates flash_size bytes of 0xFF.
	 * flash_size must be a power of two from 256 KiB to 16 MiB (RDID reports it). */
	uint8_t *flash;
	size_t flash_size;
	uint32_t baud;            /* ROM baud after reset (115200) */
	int timing;               /* 0: every byte and flash operation is free */
	uint32_t erase_ms;        /* per 4 KiB sector erased (45) */
	uint32_t program_us;      /* per 256-byte page programmed (400) */
	int start_in_download;    /* 1: powered up strapped for download; 0: app */
	int end_leaves_loader;    /* 1: FLASH_END/DEFL_END leave the loader (ROM does) */
	long long drop_after;     /* <0: never; else answer only the first N requests */
	double corrupt_rate;      /* per response byte probability of one bit flip */
	uint64_t seed;            /* PRNG seed for corruption and garbage */
	int garbage;              /* boot-log noise before every response */
	/* USB-Serial/JTAG link (S3, C3) instead of a USB-UART bridge:
	 *  - lines: chip reset while (DTR,RTS) = (0,1); it boots into download
	 *    mode when RTS rose with DTR high (esptool's USBJTAGSerialReset),
	 *    into the app otherwise (esptool's HardReset);
	 *  - usb_reenum_ms > 0: every boot drops the USB device for that long
	 *    and the old file descriptor is dead (the fake port answers
	 *    PORT_ENODEV until reopen());
	 *  - wdt_ms > 0: after a boot into download mode the RTC watchdog and the
	 *    super watchdog fire after wdt_ms unless the host disabled them the way
	 *    esptool does (WDTWPROTECT key, WDTCONFIG0 = 0; SWD_WPROTECT key,
	 *    SWD_CONF |= AUTO_FEED_EN). That watchdog reset boots the app and
	 *    re-enumerates (500 ms when usb_reenum_ms is 0). */
	int usb_jtag;
	uint32_t usb_reenum_ms;   /* 0 */
	uint32_t wdt_ms;          /* 2000 */
	/* GET_SECURITY_INFO word 0 and FLASH_CRYPT_CNT (0 and 0). On the ESP32,
	 * whose ROM has no GET_SECURITY_INFO, they land in the eFuse words a
	 * client reads instead (FLASH_CRYPT_CNT, 7 bits; SECURE_BOOT as
	 * ABS_DONE_0); the ESP32 has no secure download mode. With
	 * SIMDEV_SEC_SECURE_DOWNLOAD set (S2 and later) the loader treats
	 * READ_REG, WRITE_REG, SPI_FLASH_MD5, READ_FLASH_SLOW and MEM_* as
	 * unknown commands (01 05 under the last header): flash writes still
	 * work, nothing can be read. */
	uint32_t security_flags;
	uint8_t flash_crypt_cnt;
	/* The auto-program circuit never pulls IO0 low: every reset boots the
	 * application (what a board with a broken DTR line or a fixture without
	 * its strap does). */
	int strap_broken;
	/* ESP32-C3, C6, H2, S3: the eFuse controller (simdev_efuse.h) keeps its
	 * fuses in this file (created when missing, rewritten after every
	 * program command); NULL: in memory only. Not owned; must outlive the
	 * engine. */
	const char *efuse_file;
};

#define SIMDEV_SEC_SECURE_BOOT (1u << 0)
#define SIMDEV_SEC_SECURE_DOWNLOAD (1u << 2)

/* Defaults: ESP32, MAC 24:0a:c4:00:00:01, 4 MiB engine-owned flash, 115200,
 * timing on (45 ms / 400 us), start in download mode, FLASH_END leaves the
 * loader, no faults, seed 1, a USB-UART bridge (usb_jtag 0; wdt_ms 2000 and
 * usb_reenum_ms 0 apply once usb_jtag is set). */
void simdev_config_default(struct simdev_config *cfg);

/* Parse "esp32", "esp32s2", "esp32s3", "esp32c2", "esp32c3", "esp32c6",
 * "esp32h2" (also "esp32-s3"...). 0 or SIMDEV_EINVAL. */
int simdev_chip_parse(const char *s, enum simdev_chip *out);
const char *simdev_chip_name(enum simdev_chip chip);
/* 1 when chip is one of the modelled SIMDEV_CHIP_* values. */
int simdev_chip_valid(int chip);
/* Parse "aa:bb:cc:dd:ee:ff". 0 or SIMDEV_EINVAL. */
int simdev_mac_parse(const char *s, uint8_t mac[6]);

struct simdev;

/* On success *out is owned by the caller (simdev_free). *out is NULL on failure. */
int simdev_new(const struct simdev_config *cfg, struct simdev **out, struct simdev_err *err);
void simdev_free(struct simdev *d);

/* Host -> device: len bytes handed to the wire at time t_ns. */
void simdev_rx(struct simdev *d, uint64_t t_ns, const uint8_t *buf, size_t len);
/* Device -> host: copies up to len bytes delivered by time t_ns; returns the count. */
size_t simdev_tx(struct simdev *d, uint64_t t_ns, uint8_t *buf, size_t len);
/* Let time pass to t_ns: settles a pending boot or a watchdog reset. */
void simdev_advance(struct simdev *d, uint64_t t_ns);
/* Time of the next thing the host could observe (a byte, or a pending boot
 * that will print its log); UINT64_MAX if nothing is scheduled. */
uint64_t simdev_next_event_ns(const struct simdev *d);
/* Host flushes its input buffer at t_ns: bytes delivered by then are lost. */
void simdev_discard_tx(struct simdev *d, uint64_t t_ns);
/* DTR/RTS: 1 asserted, 0 released, -1 unchanged (same as port.h). */
void simdev_set_lines(struct simdev *d, uint64_t t_ns, int dtr, int rts);
/* The host side's baud rate; 0 = unknown (a TCP link): follows the device.
 * When both are known and differ by more than 3 %, bytes are garbled both ways. */
void simdev_set_host_baud(struct simdev *d, uint32_t baud);
/* Power-cycle strapped for download (dl=1) or app (dl=0), as a fixture would. */
void simdev_power_cycle(struct simdev *d, uint64_t t_ns, int dl);

/* Inspection and fault knobs (tests). */
enum simdev_state simdev_state(const struct simdev *d);
uint32_t simdev_baud(const struct simdev *d);
uint8_t *simdev_flash(struct simdev *d, size_t *size);
uint32_t simdev_reg_read(const struct simdev *d, uint32_t addr);
void simdev_set_drop_after(struct simdev *d, long long n);
void simdev_set_corrupt(struct simdev *d, double rate, uint64_t seed);
void simdev_set_garbage(struct simdev *d, int on);
void simdev_set_timing(struct simdev *d, int on, uint32_t erase_ms, uint32_t program_us);
/* The next `count` requests with command byte cmd get status 1 / `error`
 * and are not acted on (error 0 = no reply at all: a lost response). */
void simdev_inject(struct simdev *d, uint8_t cmd, unsigned count, uint8_t error);

/* eFuses (C3, C6, H2, S3; no-ops elsewhere): the burnt value of word w of
 * block b (BLOCK0 6 words; other blocks 8 data + 3 RS words), whatever read
 * protection hides; set ORs bits in as a previous burn would have (tests
 * preparing a chip) and reloads the read registers; programs = program
 * commands acted on. */
uint32_t simdev_efuse_get(const struct simdev *d, unsigned b, unsigned w);
void simdev_efuse_set(struct simdev *d, unsigned b, unsigned w, uint32_t bits);
unsigned simdev_efuse_programs(const struct simdev *d);

/* USB-Serial/JTAG: the device's generation (bumped on re-enumeration) and
 * when the current one is (or was) back on the bus. */
int simdev_usb_jtag(const struct simdev *d);
unsigned simdev_usb_epoch(const struct simdev *d);
uint64_t simdev_usb_back_ns(const struct simdev *d);

struct simdev_stats {
	unsigned long long requests;      /* well-formed request frames seen */
	unsigned long long responses;     /* response frames queued */
	unsigned long long dropped;       /* requests not answered (drop-after, injection) */
	unsigned long long bad_frames;    /* SLIP errors, short frames, wrong direction */
	unsigned long long corrupted;     /* response bytes with a flipped bit */
	unsigned long long garbled;       /* bytes lost to a baud mismatch */
	unsigned long long resets;        /* EN asserted */
	unsigned long long wdt_resets;    /* USB watchdog fired */
	unsigned long long boots_download;
	unsigned long long boots_app;
	unsigned long long sectors_erased;
	unsigned long long pages_programmed;
	unsigned long long bytes_rx, bytes_tx;
	unsigned long long busy_ns;       /* modelled erase/program time */
	unsigned long long unknown;       /* commands answered as unknown (01 05, stale header) */
	unsigned long long ignored_unsynced; /* ESP32: requests ignored until a new SYNC */
	unsigned long long by_cmd[256];   /* requests per command byte */
	uint8_t last_cmd;
	uint8_t last_status, last_error;
};
const struct simdev_stats *simdev_stats(const struct simdev *d);

struct simdev_line_event {
	uint64_t t_ns;
	int dtr, rts; /* resolved levels after the call */
};
/* Every simdev_set_lines() call, oldest first (up to 1024 kept). Returns the
 * number of events and points *ev at the engine's array (valid until the next
 * engine call). */
size_t simdev_line_log(const struct simdev *d, const struct simdev_line_event **ev);

/* File-backed flash for espfab-sim and tests: maps path (created 0xFF-filled
 * at size when missing or empty; an existing file must have exactly size
 * bytes) MAP_SHARED, so writes show in the file while running. Release with
 * simdev_flash_unmap (msyncs). */
int simdev_flash_map(const char *path, size_t size, uint8_t **out, struct simdev_err *err);
void simdev_flash_unmap(uint8_t *flash, size_t size);
/* Parse "4MB", "4M", "4194304", "0x400000", "512KB". 0 or SIMDEV_EINVAL. */
int simdev_size_parse(const char *s, size_t *out);

#endif
