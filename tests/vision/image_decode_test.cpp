// Outside image bytes: every bad input is refused with an ImageError that says what is wrong.
#include <gtest/gtest.h>

#include <string>

#include "image/image.h"

#include <webp/encode.h>
#include <webp/types.h>
#include "support/fixtures.h"

namespace fm {
namespace {

std::string error_of(const std::string& bytes, const ImageLimits& limits = {}) {
  try {
    decode_image(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), limits);
  } catch (const ImageError& e) {
    return e.what();
  }
  return "";
}

std::string fixture_image(const char* name) { return test::read_text_file(test::fixture_path(std::string("vision/images/") + name)); }

// A PNG signature and an IHDR chunk claiming w x h pixels (the CRC is not checked before the size).
std::string png_header(uint32_t w, uint32_t h) {
  std::string s("\x89PNG\r\n\x1a\n", 8);
  auto be32 = [&](uint32_t v) {
    for (int i = 3; i >= 0; --i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  };
  be32(13);
  s += "IHDR";
  be32(w);
  be32(h);
  s += std::string("\x08\x02\x00\x00\x00", 5);
  be32(0);
  return s;
}

TEST(ImageDecode, ReadsEveryFixtureFormat) {
  const std::string png = fixture_image("tall300x1000.png"), jpg = fixture_image("tiny64.jpg");
  const RgbImage a = decode_image(reinterpret_cast<const uint8_t*>(png.data()), png.size());
  EXPECT_EQ(a.width, 300);
  EXPECT_EQ(a.height, 1000);
  EXPECT_EQ(a.pixels.size(), 300u * 1000u * 3u);
  const RgbImage b = decode_image(reinterpret_cast<const uint8_t*>(jpg.data()), jpg.size());
  EXPECT_EQ(b.width, 64);
  EXPECT_EQ(sniff_image_format(reinterpret_cast<const uint8_t*>(jpg.data()), jpg.size()), ImageFormat::kJpeg);
}

TEST(ImageDecode, ReadsBmpGifAndWebp) {
  // 2 x 1 24-bit BMP: pixels stored bottom-up as BGR, rows padded to 4 bytes.
  std::string bmp = "BM";
  auto le32 = [](std::string& s, uint32_t v) {
    for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  };
  auto le16 = [](std::string& s, uint16_t v) {
    s += static_cast<char>(v & 0xFF);
    s += static_cast<char>(v >> 8);
  };
  le32(bmp, 14 + 40 + 8);
  le32(bmp, 0);
  le32(bmp, 14 + 40);
  le32(bmp, 40);
  le32(bmp, 2);
  le32(bmp, 1);
  le16(bmp, 1);
  le16(bmp, 24);
  for (int i = 0; i < 6; ++i) le32(bmp, 0);
  bmp += std::string("\x00\x00\xff\x00\xff\x00\x00\x00", 8);  // red, green, padding
  const RgbImage b = decode_image(reinterpret_cast<const uint8_t*>(bmp.data()), bmp.size());
  ASSERT_EQ(b.width, 2);
  EXPECT_EQ(b.pixels, (std::vector<uint8_t>{255, 0, 0, 0, 255, 0}));

  // 1 x 1 GIF89a, one red pixel (global colour table of two entries).
  const std::string gif("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\x00\x00\x00\x00\x00"
                        ",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00;", 35);
  const RgbImage g = decode_image(reinterpret_cast<const uint8_t*>(gif.data()), gif.size());
  ASSERT_EQ(g.width, 1);
  EXPECT_EQ(g.pixels, (std::vector<uint8_t>{255, 0, 0}));

  const std::vector<uint8_t> rgb = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120};  // 2 x 2
  uint8_t* encoded = nullptr;
  const size_t n = WebPEncodeLosslessRGB(rgb.data(), 2, 2, 6, &encoded);
  ASSERT_GT(n, 0u);
  const RgbImage w = decode_image(encoded, n);
  WebPFree(encoded);
  EXPECT_EQ(w.width, 2);
  EXPECT_EQ(w.pixels, rgb);
}

TEST(ImageDecode, RefusesBadBytesWithAClearMessage) {
  EXPECT_NE(error_of("").find("not an image in a supported format"), std::string::npos);
  EXPECT_NE(error_of("hello, world").find("not an image in a supported format"), std::string::npos);
  EXPECT_NE(error_of("II*\0\x08\0\0\0").find("not an image"), std::string::npos);  // TIFF is not accepted

  const std::string png = fixture_image("tall300x1000.png");
  EXPECT_NE(error_of(png.substr(0, png.size() / 2)).find("PNG image is corrupt or truncated"), std::string::npos);
  std::string corrupt = png;
  for (size_t i = 100; i < corrupt.size(); i += 7) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5A);
  EXPECT_NE(error_of(corrupt).find("PNG image is corrupt or truncated"), std::string::npos);

  const std::string jpg = fixture_image("tiny64.jpg");
  EXPECT_NE(error_of(jpg.substr(0, 20)).find("JPEG image is corrupt or truncated"), std::string::npos);
  EXPECT_NE(error_of(std::string("RIFF\x10\0\0\0WEBPVP8 ", 16)).find("WebP image is corrupt or truncated"), std::string::npos);
}

TEST(ImageDecode, RefusesAJpegHuffmanTableWithMoreThan256Codes) {
  // Debian's stb_image would write past its table for such a file; it is refused before stb_image sees it.
  std::string jpg = fixture_image("tiny64.jpg");
  const size_t dht = jpg.find("\xFF\xC4");
  ASSERT_NE(dht, std::string::npos);
  jpg[dht + 4 + 15] = static_cast<char>(0xFF);
  jpg[dht + 4 + 16] = static_cast<char>(0xFF);
  EXPECT_NE(error_of(jpg).find("JPEG image is corrupt or truncated (bad Huffman table)"), std::string::npos) << error_of(jpg);
}

TEST(ImageDecode, RefusesDecompressionBombsBeforeDecoding) {
  const std::string e = error_of(png_header(100000, 100000));
  EXPECT_NE(e.find("claims 100000x100000 pixels"), std::string::npos) << e;
  EXPECT_NE(error_of(png_header(0, 10)).find("corrupt or truncated"), std::string::npos);
  ImageLimits small;
  small.max_pixels = 1000;
  const std::string png = fixture_image("tall300x1000.png");
  EXPECT_NE(error_of(png, small).find("claims 300x1000 pixels"), std::string::npos);
}

}  // namespace
}  // namespace fm
