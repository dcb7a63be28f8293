#include "api/auth.h"

#include "api/api_error.h"

namespace fm {

ApiKeyRecord authenticate(const HttpRequest& req, const KeyStore& keys) {
  const std::string h = req.header("authorization");
  std::string scheme = h.substr(0, h.find(' '));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));  // RFC 7235
  std::string secret;
  if ((scheme == "bearer" || scheme == "api-key") && h.size() > scheme.size() + 1) secret = h.substr(scheme.size() + 1);
  if (secret.empty())
    throw ApiError(ErrorCode::kUnauthenticated, "missing API key: send 'Authorization: Bearer <key>' or 'Api-Key <key>'",
                   "invalid_api_key");
  auto rec = keys.authenticate(secret);
  if (!rec) throw ApiError(ErrorCode::kUnauthenticated, "invalid, expired or revoked API key", "invalid_api_key");
  return *rec;
}

ModelUri authorize_model(const std::string& uri_text, const std::string& field, const char* scheme,
                         const HttpRequest& req, const ApiKeyRecord& key) {
  std::string error;
  auto uri = parse_model_uri(uri_text, &error);
  if (!uri) throw bad_request(field + ": " + error, "invalid_model");
  if (!uri->scheme.empty() && uri->scheme != scheme)
    throw bad_request(field + ": this route takes " + std::string(scheme) + ":// model URIs", "invalid_model");
  if (uri->folder.empty()) {
    uri->folder = req.header("openai-project");
    if (uri->folder.empty()) uri->folder = req.header("x-folder-id");
    if (uri->folder.empty()) uri->folder = key.folder;
  }
  if (uri->folder != key.folder)
    throw ApiError(ErrorCode::kPermissionDenied, "the API key does not belong to the folder of " + field, "folder_mismatch");
  if (std::string(scheme) == "art") {
    if (!key.has_scope(kScopeFoundationModels) && !key.has_scope(kScopeImageGeneration))
      throw ApiError(ErrorCode::kPermissionDenied, "the API key lacks the scope yc.ai.imageGeneration.execute", "insufficient_scope");
  } else if (!key.has_scope(kScopeFoundationModels) && !key.has_scope(kScopeLanguageModels)) {
    throw ApiError(ErrorCode::kPermissionDenied, "the API key lacks the scope yc.ai.languageModels.execute", "insufficient_scope");
  }
  return *uri;
}

}  // namespace fm
