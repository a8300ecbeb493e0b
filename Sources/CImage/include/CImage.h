#ifndef RUNNER_CIMAGE_H
#define RUNNER_CIMAGE_H

#include <stddef.h>

/// Decodes a PNG or JPEG held in memory into 8-bit pixels with `channels` (1: gray, 3: RGB)
/// interleaved, row-major, converting colour as needed. On success returns 0 and a buffer the
/// caller frees with `runner_image_free`; on failure returns -1 and a message in `error`.
int runner_image_decode(const unsigned char *bytes, size_t length, int channels,
                        unsigned char **pixels, int *width, int *height,
                        char *error, size_t errorSize);

void runner_image_free(unsigned char *pixels);

#endif
