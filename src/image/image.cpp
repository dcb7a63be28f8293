#include "image/image.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <webp/decode.h>

#include "image/stb_decoder.h"

namespace fm {

const char* image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kGif: return "GIF";
    case ImageFormat::kBmp: return "BMP";
    case ImageFormat::kWebp: return "WebP";
    case ImageFormat::kUnknown: break;
  }
  return "unknown";
}

ImageFormat sniff_image_format(const uint8_t* d, size_t n) {
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return ImageFormat::kJpeg;
  if (n >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return ImageFormat::kPng;
  if (n >= 6 && (std::memcmp(d, "GIF87a", 6) == 0 || std::memcmp(d, "GIF89a", 6) == 0)) return ImageFormat::kGif;
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return ImageFormat::kBmp;
  if (n >= 12 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0) return ImageFormat::kWebp;
  return ImageFormat::kUnknown;
}

namespace {

void check_size(ImageFormat f, int64_t w, int64_t h, const ImageLimits& limits) {
  const std::string name = image_format_name(f);
  if (w <= 0 || h <= 0) throw ImageError("the " + name + " image has zero size");
  if (w > limits.max_side || h > limits.max_side ||
      w * h > limits.max_pixels)
    throw ImageError("the " + name + " image claims " + std::to_string(w) + "x" + std::to_string(h) +
                     " pixels, more than the limit of " + std::to_string(limits.max_pixels) + " pixels or " +
                     std::to_string(limits.max_side) + " per side");
}

uint32_t be16(const uint8_t* p) { return static_cast<uint32_t>(p[0]) << 8 | p[1]; }
uint32_t be32(const uint8_t* p) { return be16(p) << 16 | be16(p + 2); }
uint32_t le16(const uint8_t* p) { return static_cast<uint32_t>(p[1]) << 8 | p[0]; }

// The size a header claims, read before any decoding (stb_image refuses very large headers with a vague
// message); false when the header is too short to say.
bool claimed_size(ImageFormat f, const uint8_t* d, size_t n, int64_t* w, int64_t* h) {
  switch (f) {
    case ImageFormat::kPng:  // signature, IHDR length + type, width, height
      if (n < 24) return false;
      *w = be32(d + 16);
      *h = be32(d + 20);
      return true;
    case ImageFormat::kGif:
      if (n < 10) return false;
      *w = le16(d + 6);
      *h = le16(d + 8);
      return true;
    case ImageFormat::kBmp: {
      if (n < 26) return false;
      const int32_t bw = static_cast<int32_t>(le16(d + 18) | le16(d + 20) << 16);
      const int32_t bh = static_cast<int32_t>(le16(d + 22) | le16(d + 24) << 16);
      *w = std::abs(static_cast<int64_t>(bw));
      *h = std::abs(static_cast<int64_t>(bh));
      return true;
    }
    case ImageFormat::kJpeg:  // walk the markers to the first start-of-frame
      for (size_t i = 2; i + 9 < n;) {
        if (d[i] != 0xFF) return false;
        const uint8_t marker = d[i + 1];
        if (marker == 0xFF) {
          ++i;
          continue;
        }
        const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (sof) {
          *h = be16(d + i + 5);
          *w = be16(d + i + 7);
          return true;
        }
        i += 2 + be16(d + i + 2);
      }
      return false;
    default:
      return false;
  }
}

// Debian's stb_image (2.27) trusts a JPEG Huffman table's code counts (later versions refuse more than 256
// codes). Every table stb_image could read is checked before it sees the file: the segments before the first scan are
// walked as its decoder walks them; from the first scan on, where it resumes depends on the entropy-coded data, so
// every DHT marker (0xFF, fill bytes, 0xC4) is checked. Entropy-coded data never holds such a byte pair unescaped.
bool dht_tables_valid(const uint8_t* d, size_t n, size_t at) {  // at: the 0xFF of the marker
  if (at + 4 > n) return true;  // truncated: stb_image reports it
  const size_t len = be16(d + at + 2);
  const size_t end = std::min(at + 2 + len, n);
  for (size_t p = at + 4; p < end;) {  // tables of (class/id, 16 counts, symbols); zeros past the end, as stb reads
    size_t codes = 0;
    for (size_t k = p + 1; k <= p + 16 && k < n; ++k) codes += d[k];
    if (codes > 256) return false;
    p += 17 + codes;
  }
  return true;
}

bool jpeg_tables_valid(const uint8_t* d, size_t n) {
  size_t i = 2;
  while (i + 4 <= n) {
    if (d[i] != 0xFF) {  // padding between segments: stb_image scans on to the next marker, and so do we
      ++i;
      continue;
    }
    const uint8_t marker = d[i + 1];
    if (marker == 0xFF) {
      ++i;
      continue;
    }
    if (marker == 0xD9) return true;  // end of image
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      i += 2;
      continue;
    }
    if (marker == 0xC4 && !dht_tables_valid(d, n, i)) return false;
    if (marker == 0xDA) break;  // first scan
    const size_t len = be16(d + i + 2);
    if (len < 2) return true;  // stb_image reports a bad length
    i += 2 + len;
  }
  for (; i + 1 < n; ++i) {
    if (d[i] != 0xFF) continue;
    size_t k = i + 1;
    while (k < n && d[k] == 0xFF) ++k;
    if (k < n && d[k] == 0xC4 && !dht_tables_valid(d, n, k - 1)) return false;
  }
  return true;
}

RgbImage decode_webp(const uint8_t* data, size_t size, const ImageLimits& limits) {
  int w = 0, h = 0;
  if (!WebPGetInfo(data, size, &w, &h)) throw ImageError("the WebP image is corrupt or truncated");
  check_size(ImageFormat::kWebp, w, h, limits);
  RgbImage img;
  img.width = w;
  img.height = h;
  img.pixels.resize(static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
  if (!WebPDecodeRGBInto(data, size, img.pixels.data(), img.pixels.size(), w * 3))
    throw ImageError("the WebP image is corrupt or truncated");
  return img;
}

}  // namespace

RgbImage decode_image(const uint8_t* data, size_t size, const ImageLimits& limits) {
  const ImageFormat format = sniff_image_format(data, size);
  if (format == ImageFormat::kUnknown)
    throw ImageError("the bytes are not an image in a supported format (JPEG, PNG, GIF, BMP, WebP)");
  if (format == ImageFormat::kWebp) return decode_webp(data, size, limits);
  if (size > static_cast<size_t>(INT32_MAX)) throw ImageError("the image is larger than 2 GB");
  const std::string name = image_format_name(format);
  int64_t claimed_w = 0, claimed_h = 0;
  if (claimed_size(format, data, size, &claimed_w, &claimed_h) && claimed_w > 0 && claimed_h > 0)
    check_size(format, claimed_w, claimed_h, limits);
  if (format == ImageFormat::kJpeg && !jpeg_tables_valid(data, size))
    throw ImageError("the JPEG image is corrupt or truncated (bad Huffman table)");
  int w = 0, h = 0;
  std::string error;
  if (!stb_info(data, size, &w, &h, &error)) throw ImageError("the " + name + " image is corrupt or truncated (" + error + ")");
  check_size(format, w, h, limits);
  RgbImage img;
  if (!stb_decode_rgb(data, size, &w, &h, &img.pixels, &error))
    throw ImageError("the " + name + " image is corrupt or truncated (" + error + ")");
  check_size(format, w, h, limits);
  img.width = w;
  img.height = h;
  return img;
}

}  // namespace fm
