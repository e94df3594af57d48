/* Placeholder until espfabd lands. */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "espfabd: not built yet\n");
	return 2;
}
