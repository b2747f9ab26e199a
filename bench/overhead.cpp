// Engine overhead per task: sum over an in-memory array of N one-element chunks, so each
// task does almost nothing and the time is the engine's own (planning, the flow graph, the
// budget gate, the ordered combine).
//
// usage: chunkarr_overhead TASKS THREADS
// prints: tasks=<n> seconds=<s> us_per_task=<µs>
#include <chunkarr/chunkarr.hpp>

#include <chrono>
#include <cstdio>

int main(int argc, char** argv) {
  namespace ca = chunkarr;
  if (argc != 3) {
    std::fprintf(stderr, "usage: chunkarr_overhead TASKS THREADS\n");
    return 2;
  }
  const ca::index_t tasks = std::atoll(argv[1]);
  ca::compute_options o;
  o.threads = std::atoi(argv[2]);
  ca::execution_stats stats;
  o.stats = &stats;
  const ca::array x = ca::arange(tasks, ca::make_dtype(ca::scalar_kind::float64), 1);
  const auto start = std::chrono::steady_clock::now();
  const double total = ca::compute<double>(ca::sum(x), o)();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double expected = static_cast<double>(tasks) * static_cast<double>(tasks - 1) / 2;
  if (total != expected) {
    std::fprintf(stderr, "wrong sum %.17g, expected %.17g\n", total, expected);
    return 1;
  }
  std::printf("tasks=%lld seconds=%.6f us_per_task=%.3f\n", static_cast<long long>(stats.tasks),
              seconds, seconds * 1e6 / static_cast<double>(stats.tasks));
  return 0;
}
