#pragma once
// A dataset row of a generation task type, read into the messages a generation takes. Validation and batch runs
// read rows with this one parser, so a row that validated is a row that runs.
//   TextToTextGenerationRequest:      {"request":[{"role":"system","text":"…"},{"role":"user","text":"…"}]}
//   ImageTextToTextGenerationRequest: {"request":[{"role":"user","content":[{"type":"text","text":"…"},
//                                                                            {"type":"image","image":"<base64>"}]}]}
//   TextToTextGeneration (results, tuning data): the request plus "response":"<text>".
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "service/generation.h"

namespace fm {

inline constexpr const char* kTextToTextRequest = "TextToTextGenerationRequest";
inline constexpr const char* kTextToText = "TextToTextGeneration";
inline constexpr const char* kImageTextToTextRequest = "ImageTextToTextGenerationRequest";
inline constexpr const char* kImageTextToText = "ImageTextToTextGeneration";

// The task types datasets may be created with, and whether rows of a type can be validated and run here.
const std::vector<std::string>& dataset_task_types();
bool is_generation_task_type(const std::string& task_type);

// A row that does not fit its task type: `kind` groups rows failing the same way in a validation report.
class RowError : public std::runtime_error {
 public:
  RowError(std::string kind, const std::string& message) : std::runtime_error(message), kind_(std::move(kind)) {}
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
};

// The row's conversation; throws RowError. Images arrive as data: URLs in Message::images; their format is
// sniffed from the first bytes, not decoded (a batch run decodes each image once, when it encodes it).
std::vector<Message> parse_generation_row(const std::string& task_type, std::string_view line);

// Decodes every image of a parsed row, as dataset validation does so that a picture that cannot be read makes the
// dataset INVALID with its row number instead of failing at run time; throws RowError("undecodable_image", why).
void check_row_images(const std::vector<Message>& messages);

}  // namespace fm
