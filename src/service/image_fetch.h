#pragma once
// The bytes behind an image URL: data: URLs decoded; http(s) fetched by libcurl within the configured bounds
// (connect and total timeouts, a byte cap, at most N redirects, http(s) only, loopback/private/link-local
// addresses refused unless allowed); s3://bucket/key read from the configured S3-compatible endpoint with
// AWS Signature V4. Every failure is a ServiceError (invalid argument) saying what went wrong.
#include <string>

#include "service/model_registry.h"

namespace fm {

std::string image_bytes_from_url(const std::string& url, const ImageFetchConfig& config);

// True for addresses a client-supplied URL may not reach by default (loopback, private, link-local, unspecified).
bool is_internal_address(const std::string& ip);

}  // namespace fm
