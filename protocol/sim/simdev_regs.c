/* The virtual ESP32: its registers (a small sparse map) and the SPI flash
 * commands the ROM's clients send through them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "simdev_int.h"

static struct reg *reg_find(struct simdev *d, uint32_t addr, int create)
{
	for (size_t i = 0; i < d->nregs; i++)
		if (d->regs[i].addr == addr)
			return &d->regs[i];
	if (!create || d->nregs == MAX_REGS)
		return NULL;
	d->regs[d->nregs].addr = addr;
	d->regs[d->nregs].val = 0;
	return &d->regs[d->nregs++];
}

void sd_reg_set(struct simdev *d, uint32_t addr, uint32_t val)
{
	struct reg *r = reg_find(d, addr, 1);

	if (r)
		r->val = val;
}

uint32_t simdev_reg_read(const struct simdev *d, uint32_t addr)
{
	if (sdefuse_owns(&d->efuse, addr))
		return sdefuse_read(&d->efuse, addr);
	if (addr == d->chip->uart_clkdiv)
		/* integer part in bits 0-19, fraction in 20-23; esptool's
		 * get_crystal_freq multiplies the integer part by the host baud */
		return (d->div16 >> 4 & 0xFFFFFu) | (d->div16 & 15u) << 20;
	for (size_t i = 0; i < d->nregs; i++)
		if (d->regs[i].addr == addr)
			return d->regs[i].val;
	return 0;
}

void sd_regs_reset(struct simdev *d)
{
	const uint8_t *m = d->cfg.mac;

	d->nregs = 0;
	sdefuse_reset(&d->efuse);
	sd_reg_set(d, 0x40001000u, d->chip->magic);
	sd_reg_set(d, d->chip->mac_lo_addr, (uint32_t)m[2] << 24 | (uint32_t)m[3] << 16 | (uint32_t)m[4] << 8 | m[5]);
	/* ESP32 keeps a CRC8 in the top byte of this word; esptool trims it. */
	sd_reg_set(d, d->chip->mac_hi_addr, (uint32_t)m[0] << 8 | m[1]);
	if (d->cfg.usb_jtag) {
		sd_reg_set(d, d->chip->uartdev_buf_no, d->chip->usb_jtag_no);
		sd_reg_set(d, d->chip->wdt_config0, RTC_WDT_EN);
	}
	if (d->chip == &simdev_chips[SIMDEV_CHIP_ESP32]) {
		sd_reg_set(d, ESP32_RTCCALICFG1, ESP32_CALI_VALUE << 7);
		sd_reg_set(d, ESP32_EFUSE_WORD4, ESP32_CK8M);
		/* no GET_SECURITY_INFO here: the eFuses say it */
		sd_reg_set(d, ESP32_EFUSE_BLK0_WORD0, (uint32_t)(d->cfg.flash_crypt_cnt & 0x7F) << ESP32_FLASH_CRYPT_CNT_SHIFT);
		if (d->cfg.security_flags & SIMDEV_SEC_SECURE_BOOT)
			sd_reg_set(d, ESP32_EFUSE_BLK0_WORD6, ESP32_ABS_DONE_0);
	}
}

/* The UART runs from the real 40 MHz crystal; the ROM computes the divider
 * from the clock it believes in. */
void sd_set_rom_baud(struct simdev *d, uint32_t requested, int from_rom_estimate)
{
	uint64_t xtal = d->chip->xtal_hz;
	uint64_t clk = from_rom_estimate ? d->chip->rom_xtal_hz : xtal;

	d->div16 = (uint32_t)(clk * 16 / requested);
	if (!d->div16)
		d->div16 = 1;
	/* exact when the ROM knows its clock; otherwise what the divider gives */
	d->baud = clk == xtal ? requested : (uint32_t)(xtal * 16 / d->div16);
}

static uint32_t flash_rdid(const struct simdev *d)
{
	unsigned cap = 0;

	while (((size_t)1 << cap) < d->flash_size)
		cap++;
	/* manufacturer 0xEF, memory type 0x40, capacity = log2(bytes): what a
	 * Winbond W25Q part answers and esptool maps to a size */
	return 0xEFu | 0x40u << 8 | (uint32_t)cap << 16;
}

/* esptool's run_spiflash_command: writes USR/USR2/W0, sets SPI_CMD_USR in
 * the CMD register, polls until it clears, then reads W0. */
void sd_spi_user_command(struct simdev *d)
{
	uint32_t base = d->chip->spi_base;
	uint32_t cmd = simdev_reg_read(d, base + d->chip->spi_usr2_offs) & 0xFFFF;
	uint32_t w0 = base + d->chip->spi_w0_offs;
	uint32_t data = simdev_reg_read(d, w0);

	switch (cmd & 0xFF) {
	case 0x9F: /* RDID */
		sd_reg_set(d, w0, flash_rdid(d));
		break;
	case 0x05: /* RDSR */
		sd_reg_set(d, w0, d->spi_status[0]);
		break;
	case 0x35: /* RDSR2 */
		sd_reg_set(d, w0, d->spi_status[1]);
		break;
	case 0x15: /* RDSR3 */
		sd_reg_set(d, w0, d->spi_status[2]);
		break;
	case 0x01: /* WRSR (8 or 16 bits) */
		d->spi_status[0] = (uint8_t)data;
		d->spi_status[1] = (uint8_t)(data >> 8);
		break;
	case 0x31:
		d->spi_status[1] = (uint8_t)data;
		break;
	case 0x11:
		d->spi_status[2] = (uint8_t)data;
		break;
	default: /* WREN, WRDI, WEVSR, SFDP...: accepted, no data */
		break;
	}
	sd_reg_set(d, base, simdev_reg_read(d, base) & ~(1u << 18));
}

