#include "service/dataset_rows.h"

#include <nlohmann/json.hpp>

#include "image/image.h"
#include "util/base64.h"

namespace fm {

const std::vector<std::string>& dataset_task_types() {
  static const std::vector<std::string> kTypes = {
      kTextToTextRequest,  kTextToText, kImageTextToTextRequest, kImageTextToText, "TextClassificationMultilabel",
      "TextClassificationMulticlass", "TextEmbeddingPairParams", "TextEmbeddingTripletParams"};
  return kTypes;
}

bool is_generation_task_type(const std::string& t) {
  return t == kTextToTextRequest || t == kTextToText || t == kImageTextToTextRequest || t == kImageTextToText;
}

namespace {

using json = nlohmann::json;

// The image's media type from its first bytes; empty when it is no format the decoders read.
std::string image_mime(const std::string& bytes) {
  switch (sniff_image_format(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())) {
    case ImageFormat::kJpeg: return "image/jpeg";
    case ImageFormat::kPng: return "image/png";
    case ImageFormat::kGif: return "image/gif";
    case ImageFormat::kBmp: return "image/bmp";
    case ImageFormat::kWebp: return "image/webp";
    case ImageFormat::kUnknown: break;
  }
  return "";
}

std::string text_field(const json& part, const char* where) {
  auto it = part.find("text");
  if (it == part.end() || !it->is_string()) throw RowError("missing_text", std::string(where) + " has no string 'text'");
  return it->get<std::string>();
}

void read_content(const json& content, Message& m, bool images_allowed) {
  if (!content.is_array() || content.empty()) throw RowError("bad_content", "'content' must be a non-empty array of parts");
  for (const json& part : content) {
    if (!part.is_object()) throw RowError("bad_content", "a content part is not an object");
    const std::string type = part.value("type", "");
    if (type == "text") {
      m.text += text_field(part, "a text part");
    } else if (type == "image") {
      if (!images_allowed) throw RowError("unexpected_image", "this task type takes no images");
      auto it = part.find("image");
      if (it == part.end() || !it->is_string()) throw RowError("bad_image", "an image part has no base64 'image'");
      const std::optional<std::string> bytes = base64_decode(it->get<std::string>());
      if (!bytes) throw RowError("bad_image", "an image is not valid base64");
      const std::string mime = image_mime(*bytes);
      if (mime.empty()) throw RowError("bad_image", "an image is none of JPEG, PNG, GIF, BMP or WebP");
      m.images.push_back({"data:" + mime + ";base64," + it->get<std::string>(), m.text.size()});
    } else {
      throw RowError("bad_content", "unknown content part type '" + type + "'");
    }
  }
}

}  // namespace

std::vector<Message> parse_generation_row(const std::string& task_type, std::string_view line) {
  if (!is_generation_task_type(task_type)) throw RowError("unsupported_task_type", "rows of task type '" + task_type + "' cannot be run");
  const bool images = task_type == kImageTextToTextRequest || task_type == kImageTextToText;
  const json row = json::parse(line, nullptr, false);
  if (row.is_discarded()) throw RowError("invalid_json", "the row is not valid JSON");
  if (!row.is_object()) throw RowError("bad_row", "the row is not a JSON object");
  auto request = row.find("request");
  if (request == row.end() || !request->is_array() || request->empty())
    throw RowError("missing_request", "the row has no non-empty 'request' array of messages");
  std::vector<Message> messages;
  bool has_user = false;
  for (const json& item : *request) {
    if (!item.is_object()) throw RowError("bad_message", "a message is not an object");
    auto role = item.find("role");
    if (role == item.end() || !role->is_string()) throw RowError("bad_message", "a message has no 'role'");
    Message m;
    m.role = role->get<std::string>();
    if (m.role != "system" && m.role != "user" && m.role != "assistant")
      throw RowError("bad_role", "unknown role '" + m.role + "' (system, user or assistant)");
    if (item.contains("content")) read_content(item["content"], m, images);
    else m.text = text_field(item, "a message");
    if (!m.images.empty() && m.role != "user") throw RowError("bad_image", "only user messages carry images");
    has_user |= m.role == "user";
    messages.push_back(std::move(m));
  }
  if (!has_user) throw RowError("no_user_message", "the request has no user message");
  const bool needs_response = task_type == kTextToText || task_type == kImageTextToText;
  if (needs_response) {
    auto response = row.find("response");
    if (response == row.end() || !response->is_string()) throw RowError("missing_response", "the row has no string 'response'");
  }
  return messages;
}

void check_row_images(const std::vector<Message>& messages) {
  int number = 0;
  for (const Message& m : messages) {
    for (const ImageInput& image : m.images) {
      ++number;
      const size_t comma = image.url.find(',');
      const std::optional<std::string> bytes = base64_decode(std::string_view(image.url).substr(comma + 1));
      if (!bytes) throw RowError("bad_image", "image " + std::to_string(number) + " is not valid base64");
      try {
        decode_image(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
      } catch (const ImageError& e) {
        throw RowError("undecodable_image", "image " + std::to_string(number) + ": " + e.what());
      }
    }
  }
}

}  // namespace fm
