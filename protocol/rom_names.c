/* Names and messages of the ROM module's codes and commands. */
#include "rom_int.h"

const char *rom_strerror(int err)
{
	switch (err) {
	case ROM_OK: return "ok";
	case ROM_ETIMEDOUT: return "timed out";
	case ROM_ECANCELED: return "cancelled";
	case ROM_EIO: return "I/O error";
	case ROM_ENODEV: return "device went away";
	case ROM_EINVAL: return "invalid argument";
	case ROM_ENOSYNC: return "no answer from the ROM loader";
	case ROM_EFAILED: return "the ROM reported a failure";
	case ROM_EUNSUPPORTED: return "command not supported by this ROM";
	case ROM_EPROTO: return "malformed reply";
	case ROM_ECHIP: return "unsupported chip";
	case ROM_ESECURE: return "refused in secure download mode";
	case ROM_EVERIFY: return "verification failed";
	case ROM_ENOMEM: return "out of memory";
	case ROM_ERANGE: return "region misaligned or out of range";
	case ROM_ESTUB: return "a flasher stub answered, not the ROM";
	case ROM_EFLASHID: return "SPI flash not detected";
	case ROM_ENOLINES: return "port has no DTR/RTS lines";
	case ROM_EDEFLATE: return "compression failed";
	case ROM_EPORT: return "cannot open port";
	case ROM_EENCRYPTED: return "flash encryption is enabled";
	}
	return "unknown error";
}

const char *rom_error_name(int err)
{
	switch (err) {
	case ROM_OK: return "ROM_OK";
	case ROM_ETIMEDOUT: return "ROM_ETIMEDOUT";
	case ROM_ECANCELED: return "ROM_ECANCELED";
	case ROM_EIO: return "ROM_EIO";
	case ROM_ENODEV: return "ROM_ENODEV";
	case ROM_EINVAL: return "ROM_EINVAL";
	case ROM_ENOSYNC: return "ROM_ENOSYNC";
	case ROM_EFAILED: return "ROM_EFAILED";
	case ROM_EUNSUPPORTED: return "ROM_EUNSUPPORTED";
	case ROM_EPROTO: return "ROM_EPROTO";
	case ROM_ECHIP: return "ROM_ECHIP";
	case ROM_ESECURE: return "ROM_ESECURE";
	case ROM_EVERIFY: return "ROM_EVERIFY";
	case ROM_ENOMEM: return "ROM_ENOMEM";
	case ROM_ERANGE: return "ROM_ERANGE";
	case ROM_ESTUB: return "ROM_ESTUB";
	case ROM_EFLASHID: return "ROM_EFLASHID";
	case ROM_ENOLINES: return "ROM_ENOLINES";
	case ROM_EDEFLATE: return "ROM_EDEFLATE";
	case ROM_EPORT: return "ROM_EPORT";
	case ROM_EENCRYPTED: return "ROM_EENCRYPTED";
	}
	return "ROM_E?";
}

const char *rom_cmd_name(uint8_t cmd)
{
	switch (cmd) {
	case ROM_CMD_FLASH_BEGIN: return "FLASH_BEGIN";
	case ROM_CMD_FLASH_DATA: return "FLASH_DATA";
	case ROM_CMD_FLASH_END: return "FLASH_END";
	case ROM_CMD_MEM_BEGIN: return "MEM_BEGIN";
	case ROM_CMD_MEM_END: return "MEM_END";
	case ROM_CMD_MEM_DATA: return "MEM_DATA";
	case ROM_CMD_SYNC: return "SYNC";
	case ROM_CMD_WRITE_REG: return "WRITE_REG";
	case ROM_CMD_READ_REG: return "READ_REG";
	case ROM_CMD_SPI_SET_PARAMS: return "SPI_SET_PARAMS";
	case ROM_CMD_SPI_ATTACH: return "SPI_ATTACH";
	case ROM_CMD_READ_FLASH_SLOW: return "READ_FLASH_SLOW";
	case ROM_CMD_CHANGE_BAUDRATE: return "CHANGE_BAUDRATE";
	case ROM_CMD_FLASH_DEFL_BEGIN: return "FLASH_DEFL_BEGIN";
	case ROM_CMD_FLASH_DEFL_DATA: return "FLASH_DEFL_DATA";
	case ROM_CMD_FLASH_DEFL_END: return "FLASH_DEFL_END";
	case ROM_CMD_SPI_FLASH_MD5: return "SPI_FLASH_MD5";
	case ROM_CMD_GET_SECURITY_INFO: return "GET_SECURITY_INFO";
	}
	return "?";
}

const char *rom_error_byte_name(uint8_t err)
{
	/* The ROM's error codes as Espressif's serial protocol document lists them. */
	switch (err) {
	case ROM_ERR_INVALID_MSG: return "received message is invalid";
	case ROM_ERR_FAILED_ACT: return "failed to act on received message";
	case ROM_ERR_BAD_CRC: return "invalid CRC in message";
	case ROM_ERR_FLASH_WRITE: return "flash write error";
	case ROM_ERR_FLASH_READ: return "flash read error";
	case ROM_ERR_READ_LEN: return "flash read length error";
	case ROM_ERR_DEFLATE: return "deflate error";
	}
	return "?";
}
