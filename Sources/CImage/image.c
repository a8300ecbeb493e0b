// PNG through libpng's simplified API, JPEG through libjpeg-turbo's libjpeg API (whose errors
// arrive by longjmp, which is why this is C and not Swift).

#include "CImage.h"
#include <png.h>
#include <jpeglib.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// An image larger than `maxPixels` is refused from its header, before any pixel memory exists
// (a 50 MB JPEG may declare 65500 x 65500 pixels: 12.6 GB decoded).
static int too_large(unsigned long width, unsigned long height, size_t maxPixels, char *error, size_t errorSize) {
    if ((unsigned long long)width * height <= maxPixels) return 0;
    snprintf(error, errorSize, "the image is %lux%lu pixels, more than the %zu megapixels runner decodes", width, height, maxPixels >> 20);
    return 1;
}

static int decode_png(const unsigned char *bytes, size_t length, int channels, size_t maxPixels, unsigned char **pixels,
                      int *width, int *height, char *error, size_t errorSize) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, bytes, length)) {
        snprintf(error, errorSize, "not a readable PNG: %s", image.message);
        return -1;
    }
    if (too_large(image.width, image.height, maxPixels, error, errorSize)) { png_image_free(&image); return RUNNER_IMAGE_TOO_LARGE; }
    image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    size_t size = PNG_IMAGE_SIZE(image);
    unsigned char *buffer = malloc(size ? size : 1);
    if (!buffer) { png_image_free(&image); snprintf(error, errorSize, "out of memory for a %ux%u image", image.width, image.height); return -1; }
    // Transparent pixels are composed onto black (the background argument NULL).
    if (!png_image_finish_read(&image, NULL, buffer, 0, NULL)) {
        snprintf(error, errorSize, "the PNG data is damaged: %s", image.message);
        free(buffer);
        return -1;
    }
    *pixels = buffer; *width = (int)image.width; *height = (int)image.height;
    return 0;
}

struct jpeg_failure { struct jpeg_error_mgr manager; jmp_buf jump; char message[JMSG_LENGTH_MAX]; };

static void jpeg_fail(j_common_ptr info) {
    struct jpeg_failure *failure = (struct jpeg_failure *)info->err;
    (*info->err->format_message)(info, failure->message);
    longjmp(failure->jump, 1);
}

// Level −1 is a corrupt-data warning (a truncated file, a bad Huffman code): libjpeg would go on
// and fill the rest with grey; runner refuses the file instead. Trace messages are ignored.
static void jpeg_warning(j_common_ptr info, int level) {
    if (level < 0) jpeg_fail(info);
}

static int decode_jpeg(const unsigned char *bytes, size_t length, int channels, size_t maxPixels, unsigned char **pixels,
                       int *width, int *height, char *error, size_t errorSize) {
    struct jpeg_decompress_struct info;
    struct jpeg_failure failure;
    unsigned char *volatile buffer = NULL;
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jpeg_fail;
    failure.manager.emit_message = jpeg_warning;
    if (setjmp(failure.jump)) {
        snprintf(error, errorSize, "the JPEG data is damaged: %s", failure.message);
        jpeg_destroy_decompress(&info);
        free(buffer);
        return -1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, bytes, (unsigned long)length);
    jpeg_read_header(&info, TRUE);
    if (too_large(info.image_width, info.image_height, maxPixels, error, errorSize)) { jpeg_destroy_decompress(&info); return RUNNER_IMAGE_TOO_LARGE; }
    // libjpeg converts CMYK only to CMYK: say so rather than call the file damaged.
    if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
        snprintf(error, errorSize, "the JPEG is in CMYK colour, which runner does not convert");
        jpeg_destroy_decompress(&info);
        return RUNNER_IMAGE_UNSUPPORTED;
    }
    info.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    size_t stride = (size_t)info.output_width * (size_t)channels;
    buffer = malloc(stride * info.output_height + 1);
    if (!buffer) { snprintf(error, errorSize, "out of memory"); jpeg_destroy_decompress(&info); return -1; }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = buffer + stride * info.output_scanline;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    *pixels = buffer; *width = (int)info.output_width; *height = (int)info.output_height;
    jpeg_destroy_decompress(&info);
    return 0;
}

int runner_image_decode(const unsigned char *bytes, size_t length, int channels, size_t maxPixels,
                        unsigned char **pixels, int *width, int *height,
                        char *error, size_t errorSize) {
    if (channels != 1 && channels != 3) { snprintf(error, errorSize, "images must be decoded to 1 or 3 channels, not %d", channels); return -1; }
    if (length >= 8 && memcmp(bytes, "\x89PNG\r\n\x1a\n", 8) == 0) return decode_png(bytes, length, channels, maxPixels, pixels, width, height, error, errorSize);
    if (length >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) return decode_jpeg(bytes, length, channels, maxPixels, pixels, width, height, error, errorSize);
    snprintf(error, errorSize, "neither a PNG nor a JPEG file (its first bytes are not a PNG or JPEG signature)");
    return -1;
}

void runner_image_free(unsigned char *pixels) { free(pixels); }
