#pragma once
// Named points where a test can make the process die as if killed (SIGKILL), to check that durable state survives a
// crash at exactly that moment: with FMSERVE_CRASH_POINT=<name> in the environment, the process kills itself the
// first time it passes crash_point("<name>"). Without the variable a crash point costs one cached comparison.
#include <string_view>

namespace fm {

void crash_point(std::string_view name);

}  // namespace fm
