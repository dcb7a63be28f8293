// fmserve-jq: the helper process that runs workflow templates' jq programs for fmserve (see workflow/jq_worker.h).
// It answers requests on fd 3 and ends when fmserve closes it (or dies: the socket closes with it).
#include "workflow/jq_worker.h"

int main() { return fm::workflow::serve_jq_requests(3); }
