/* replay_main: with compilers that have no libFuzzer, a fuzz target becomes a
 * program that feeds every file of its corpus directories (or the files
 * named) to LLVMFuzzerTestOneInput once; the sanitizers catch what breaks. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { REPLAY_MAX_FILE_BYTES = 1 << 20 };

static int run_file(const char *path)
{
	static uint8_t buf[REPLAY_MAX_FILE_BYTES];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		perror(path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	/* A copy of exactly n bytes so ASan sees reads past the input. */
	uint8_t *copy = malloc(n ? n : 1);
	if (!copy)
		return -1;
	memcpy(copy, buf, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
	return 0;
}

int main(int argc, char **argv)
{
	size_t files = 0;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0) {
			perror(argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			rc |= run_file(argv[i]);
			files++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			char path[4096];
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
			rc |= run_file(path);
			files++;
		}
		if (d)
			closedir(d);
	}
	/* Always exercise the empty input too. */
	LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
	printf("replayed %zu corpus files\n", files);
	if (files == 0) {
		fprintf(stderr, "no corpus files found\n");
		return 1;
	}
	return rc ? 1 : 0;
}
