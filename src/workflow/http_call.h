#pragma once
// The httpCall step: one HTTP(S) request by libcurl under the same address rules as image URLs (loopback, private
// and link-local addresses refused unless their host is in `image_fetch.allow_hosts`; a byte cap; bounded
// redirects), within the step's deadline.
#include "service/model_registry.h"
#include "workflow/engine.h"

namespace fm::workflow {

// `call`: {url, method (GET), headers {name: value}, query {name: value}, body (a string as is; anything else as
// JSON)}. Returns the response body, parsed when it is JSON, else as a string. Failures are StepFailures:
// HTTP_CALL_<status> for a status >= 400, STEP_TIMEOUT, STEP_INVALID_ARGUMENT for a refused URL, else STEP_INTERNAL.
json http_call(const json& call, const CallContext& ctx, const ImageFetchConfig& config);

}  // namespace fm::workflow
