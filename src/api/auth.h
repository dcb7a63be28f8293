#pragma once
// Who is calling and what they may address: API keys from `Authorization: Bearer <key>` or `Api-Key <key>`,
// the folder of a model URI (else the x-folder-id / OpenAI-Project header, else the key's own), and scopes.
#include <string>

#include "api/http_server.h"
#include "service/model_registry.h"
#include "store/key_store.h"

namespace fm {

// The caller's key; throws ApiError 401 when missing, unknown, revoked or expired.
ApiKeyRecord authenticate(const HttpRequest& request, const KeyStore& keys);

// Parses `uri_text` (a model URI or bare name; `field` names it in errors, `scheme` is the one the route expects)
// and checks the caller may use it: its folder is the key's (403) and the key has the scope for the scheme's models
// (art://: yc.ai.imageGeneration.execute; the others: yc.ai.languageModels.execute; yc.ai.foundationModels.execute: all).
ModelUri authorize_model(const std::string& uri_text, const std::string& field, const char* scheme,
                         const HttpRequest& request, const ApiKeyRecord& key);

}  // namespace fm
