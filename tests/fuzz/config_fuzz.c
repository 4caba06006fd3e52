/* config_fuzz: config_parse on arbitrary bytes must not crash or leak, and
 * must return a config exactly when it reports no error. */
#include <stdint.h>
#include <stdlib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_diag diag;
	struct msock_config *cfg;

	cfg = config_parse((const char *)data, size, "fuzz.json", &diag);
	if ((cfg == NULL) != (diag.n_errors > 0))
		abort();
	for (size_t i = 0; i < diag.n_errors; i++)
		if (!diag.errors[i])
			abort();
	config_free(cfg);
	cfg_diag_free(&diag);
	return 0;
}
