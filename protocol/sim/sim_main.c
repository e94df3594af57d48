/* Placeholder until espfab-sim lands. */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "espfab-sim: not built yet\n");
	return 2;
}
