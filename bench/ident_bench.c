/* Benchmark (prints figures; not a test): what identification costs per
 * chip family on espfab-sim's timing model (115200 baud, bytes paced on
 * virtual time): from the first SYNC to the flash ready for writing, the
 * number of exchanges and the modelled milliseconds, identify only (no baud
 * change) and with the switch to 921600. The bound: an ESP32 no
 * dearer than an ESP32-C3.
 * usage: bench_ident */
#include <stdio.h>
#include <string.h>

#include "espfab/flashop.h"
#include "espfab/simdev.h"
#include "espfab/simdev_fakeport.h"

static int run(enum simdev_chip chip, uint32_t baud, double *ms, unsigned long long *req)
{
	struct simdev_config cfg;
	struct simdev *dev = NULL;
	struct port *p = NULL;
	struct flashop_options o;
	struct flashop *f = NULL;
	struct rom_diag d;
	uint64_t t0;
	int e;

	simdev_config_default(&cfg);
	cfg.chip = chip;
	if (simdev_new(&cfg, &dev, NULL) || simdev_fakeport_new(dev, NULL, 115200, &p))
		return -1;
	flashop_options_init(&o);
	o.before = RESET_MODE_NONE;
	o.baud = baud;
	t0 = p->ops->now_ms(p);
	e = flashop_attach(p, &o, &f, &d);
	if (!e) {
		*ms = (double)(flashop_port(f)->ops->now_ms(flashop_port(f)) - t0);
		*req = simdev_stats(dev)->requests;
	} else {
		fprintf(stderr, "%s: %s\n", simdev_chip_name(chip), d.msg);
	}
	flashop_close(f);
	simdev_free(dev);
	return e;
}

int main(void)
{
	static const enum simdev_chip chips[] = {SIMDEV_CHIP_ESP32,   SIMDEV_CHIP_ESP32S2, SIMDEV_CHIP_ESP32S3,
						 SIMDEV_CHIP_ESP32C2, SIMDEV_CHIP_ESP32C3, SIMDEV_CHIP_ESP32C6,
						 SIMDEV_CHIP_ESP32H2};

	printf("%-10s %10s %12s %10s %12s\n", "chip", "exchanges", "ms@115200", "exchanges", "ms@921600");
	for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++) {
		double a = 0, b = 0;
		unsigned long long ra = 0, rb = 0;

		if (run(chips[i], 115200, &a, &ra) || run(chips[i], 921600, &b, &rb))
			return 1;
		printf("%-10s %10llu %12.1f %10llu %12.1f\n", simdev_chip_name(chips[i]), ra, a, rb, b);
	}
	return 0;
}
