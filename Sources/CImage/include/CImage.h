#ifndef RUNNER_CIMAGE_H
#define RUNNER_CIMAGE_H

#include <stddef.h>

enum {
    RUNNER_IMAGE_DAMAGED = -1,      // not a PNG or JPEG, or its data is damaged
    RUNNER_IMAGE_TOO_LARGE = -2,    // width x height above maxPixels (refused from the header)
    RUNNER_IMAGE_UNSUPPORTED = -3,  // a colour space runner does not convert (CMYK JPEG)
};

/// Decodes a PNG or JPEG held in memory into 8-bit pixels with `channels` (1: gray, 3: RGB)
/// interleaved, row-major, converting colour as needed. On success returns 0 and a buffer the
/// caller frees with `runner_image_free`; on failure returns one of the codes above and a
/// message in `error`.
int runner_image_decode(const unsigned char *bytes, size_t length, int channels, size_t maxPixels,
                        unsigned char **pixels, int *width, int *height,
                        char *error, size_t errorSize);

void runner_image_free(unsigned char *pixels);

#endif
