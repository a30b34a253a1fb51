// CPU time of the calling thread, for the timing that `dmarq -v ingest`
// reports per pipeline stage.
#pragma once

namespace dmarq::util {

double thread_cpu_seconds();

}  // namespace dmarq::util
