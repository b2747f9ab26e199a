// to_dot: the plan's stages and tasks in Graphviz DOT, drawn from the same plan value that
// `compute` and `store` run, so the graph shows exactly what would run.
#include <algorithm>
#include <set>
#include <sstream>

#include "chunkarr/core/error.hpp"
#include "chunkarr/exec/compute.hpp"
#include "expr/node.hpp"
#include "plan/plan.hpp"

namespace chunkarr {

using namespace detail;

namespace {

std::string reduction_name(const detail::node& r) {
  return r.reduction.user ? r.reduction.user->name : name_of(r.reduction.op);
}

std::string escape_dot(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// The storage a stage's tasks read: sources below its inputs (not through other stages).
std::set<std::string> sources_of(const plan_stage& s) {
  std::set<std::string> out;
  visit_once(stage_roots(s), [&](const node& n) {
    if (n.kind == node_kind::zarr_source || n.kind == node_kind::chunk_source)
      out.insert(describe(n));
    return n.kind != node_kind::materialised;
  });
  return out;
}

const char* task_label(stage_kind k) {
  switch (k) {
    case stage_kind::reduce:
      return "partial";
    case stage_kind::reduce_strips:
      return "strip";
    case stage_kind::scan:
      return "scan strip";
    case stage_kind::select:
      return "count digits";
    case stage_kind::materialise:
      return "write";
    case stage_kind::output:
      return "compute";
  }
  return "";
}

}  // namespace

std::string to_dot(const array& a, const compute_options& options) {
  if (!a) throw_error<value_error>("operation on an empty chunkarr::array");
  output_spec spec;
  spec.run_output = false;
  planning_options o;
  o.memory_limit = options.memory_limit;
  o.threads = options.threads;
  o.check_budget = false;
  const plan p = make_plan(a.node(), spec, o);
  constexpr index_t shown = 8;
  std::ostringstream dot;
  dot << "digraph chunkarr {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n";
  for (std::size_t k = 0; k < p.stages.size(); ++k) {
    const plan_stage& s = p.stages[k];
    const bool is_output = s.kind == stage_kind::output;
    std::string reads_from;
    for (const std::string& src : sources_of(s)) reads_from += "\\n" + escape_dot(src);
    dot << "  subgraph cluster_" << k << " {\n    label=\"stage " << k + 1 << ": "
        << (is_output ? "output " : "") << escape_dot(s.name) << " (" << s.tasks << " tasks)"
        << reads_from
        << (s.kind == stage_kind::reduce_strips && !s.inner.empty()
                ? "\\nfused with the reductions inside it: one task per strip"
                : "")
        << "\";\n";
    const std::string prefix = "s" + std::to_string(k) + "_";
    for (index_t i = 0; i < std::min(s.tasks, shown); ++i) {
      dot << "    " << prefix << i << " [label=\"" << task_label(s.kind) << "\\n"
          << escape_dot(s.describe_task(i)) << "\"];\n";
    }
    if (s.tasks > shown) {
      dot << "    " << prefix << "more [label=\"… " << s.tasks - shown
          << " more tasks\", shape=note];\n";
    }
    if (!is_output) {
      const std::string spilled = s.result->result->spill ? "\\nspilled to disk" : "";
      const std::string what =
          s.kind == stage_kind::materialise ? std::string("written to a temporary array")
          : s.kind == stage_kind::select
              ? std::string("digit counts merged, pass after pass\\n(exact ranks)")
          : s.kind == stage_kind::scan
              ? "state carried chunk to chunk\\n(in order along axis " +
                    std::to_string(s.target->axis) + ")" + spilled
              : "combine " + reduction_name(*s.target) + "\\n(fixed order)" + spilled;
      dot << "    " << prefix << "result [label=\"" << what << "\", shape=ellipse];\n";
    }
    dot << "  }\n";
    auto each_task = [&](const std::function<void(const std::string&)>& f) {
      for (index_t i = 0; i < std::min(s.tasks, shown); ++i) f(prefix + std::to_string(i));
      if (s.tasks > shown) f(prefix + "more");
    };
    for (std::size_t j : s.reads) {
      each_task([&](const std::string& t) { dot << "  s" << j << "_result -> " << t << ";\n"; });
    }
    if (!is_output) {
      each_task([&](const std::string& t) { dot << "  " << t << " -> " << prefix << "result;\n"; });
    }
  }
  dot << "}\n";
  return dot.str();
}

}  // namespace chunkarr
