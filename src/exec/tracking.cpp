// inputs_of and expression_digest: walks of the expression DAG for pipelines
// (chunkarr/exec/tracking.hpp). store_observed is with the other sinks, in compute.cpp.
#include "chunkarr/exec/tracking.hpp"

#include <unordered_map>

#include "chunkarr/expr/block_function.hpp"
#include "expr/node.hpp"

namespace chunkarr {

using namespace detail;

const shape_t& expression_input::shape() const {
  return zarr ? zarr->shape() : source->shape();
}

shape_t expression_input::chunk_shape() const {
  return zarr ? zarr->metadata().chunks : source->chunk_shape();
}

std::string expression_input::describe() const {
  return zarr ? zarr->describe() : source->describe();
}

namespace {

// The stored sources under `root`, first reached depth first (inputs in order).
std::vector<const node*> sources_of(const node& root) {
  std::vector<const node*> out;
  std::unordered_map<const void*, bool> seen;
  std::vector<const node*> stack{&root};
  std::unordered_map<const node*, bool> visited;
  while (!stack.empty()) {
    const node* n = stack.back();
    stack.pop_back();
    if (!visited.emplace(n, true).second) continue;
    if (n->kind == node_kind::zarr_source || n->kind == node_kind::chunk_source) {
      if (seen.emplace(source_identity(*n), true).second) out.push_back(n);
      continue;
    }
    for (auto it = n->inputs.rbegin(); it != n->inputs.rend(); ++it) stack.push_back(it->get());
  }
  return out;
}

template <class T>
void add_all(hasher& h, const std::vector<T>& values) {
  h.add_value(static_cast<std::uint64_t>(values.size()));
  for (const T& v : values) h.add_value(v);
}

void add_bools(hasher& h, const std::vector<bool>& values) {
  h.add_value(static_cast<std::uint64_t>(values.size()));
  for (bool v : values) h.add_value(static_cast<std::uint8_t>(v));
}

void add_bytes(hasher& h, std::span<const std::byte> values) {
  h.add_value(static_cast<std::uint64_t>(values.size()));
  h.add(values);
}

// Digests each node once, naming the nodes it reaches by the order they were first digested,
// so a shared subexpression is the same reference wherever it is used.
class dag_hasher {
 public:
  explicit dag_hasher(const node& root) {
    std::size_t k = 0;
    for (const node* s : sources_of(root)) input_.emplace(source_identity(*s), k++);
  }

  // The node's number (digesting it, and what it reads, the first time).
  std::uint64_t visit(const node& n) {
    if (const auto it = ids_.find(&n); it != ids_.end()) return it->second;
    std::vector<std::uint64_t> inputs;
    for (const node_ptr& in : n.inputs) inputs.push_back(visit(*in));
    const std::uint64_t id = ids_.size();
    ids_.emplace(&n, id);
    h_.add("node");
    h_.add_value(static_cast<int>(n.kind));
    add_all(h_, n.shape);
    h_.add(n.dtype.typestr());
    h_.add_value(static_cast<std::uint64_t>(n.chunks.size()));
    for (const axis_chunks& axis : n.chunks) {
      h_.add_value(axis.size());
      h_.add_value(axis.extent());
      if (axis.is_regular()) {
        if (axis.size() > 0) h_.add_value(axis[0]);
        if (axis.size() > 1) h_.add_value(axis[1]);
      } else {
        add_all(h_, axis.lengths());
      }
    }
    add_all(h_, inputs);
    switch (n.kind) {
      case node_kind::zarr_source:
        h_.add_value(input_.at(n.zarr.get()));
        break;
      case node_kind::chunk_source:
        h_.add_value(input_.at(n.source.get()));
        break;
      case node_kind::memory_source:
        add_bytes(h_, *n.values);
        break;
      case node_kind::fill:
        add_bytes(h_, n.fill_value);
        break;
      case node_kind::elementwise:
        h_.add_value(static_cast<int>(n.elementwise.what));
        h_.add_value(static_cast<int>(n.elementwise.unary));
        h_.add_value(static_cast<int>(n.elementwise.binary));
        h_.add(n.elementwise.compute.typestr());
        break;
      case node_kind::reduction: {
        const reduction_payload& r = n.reduction;
        h_.add_value(static_cast<int>(r.op));
        add_bools(h_, r.reduced);
        h_.add_value(static_cast<int>(r.keepdims));
        h_.add_value(r.ddof);
        h_.add_value(static_cast<int>(r.flat_index));
        h_.add(r.user ? r.user->name : std::string());
        break;
      }
      case node_kind::slice:
        h_.add_value(static_cast<std::uint64_t>(n.slicing.ranges.size()));
        for (const slice_range& r : n.slicing.ranges) {
          h_.add_value(r.start).add_value(r.stop).add_value(r.step).add_value(r.count);
        }
        add_bools(h_, n.slicing.dropped);
        add_bools(h_, n.slicing.output_is_new);
        break;
      case node_kind::random: {
        const random_payload& r = n.random;
        h_.add_value(static_cast<std::uint32_t>(r.what)).add_value(r.seed);
        h_.add_value(r.offset).add_value(r.scale).add_value(r.low).add_value(r.range);
        break;
      }
      case node_kind::scan: {
        const scan_payload& s = n.scan;
        h_.add_value(static_cast<int>(s.op));
        add_all(h_, s.coef);
        h_.add_value(static_cast<std::uint64_t>(s.order));
        add_all(h_, s.zi);
        h_.add_value(static_cast<int>(s.reverse)).add_value(static_cast<int>(s.both_ways));
        h_.add_value(s.edge);
        break;
      }
      case node_kind::blocks: {
        const blocks_payload& b = *n.blocks;
        h_.add(b.name);
        add_all(h_, b.before);
        add_all(h_, b.after);
        h_.add_value(static_cast<int>(b.clip));
        add_all(h_, b.drop_axis);
        add_all(h_, b.new_axis);
        h_.add_value(static_cast<std::uint64_t>(b.axis_map.size()));
        for (const std::vector<int>& m : b.axis_map) add_all(h_, m);
        h_.add_value(b.scratch);
        h_.add_value(static_cast<int>(b.window)).add_value(b.window_axis);
        add_all(h_, b.weights);
        h_.add_value(b.rank);
        break;
      }
      case node_kind::select: {
        const quantile_spec& q = *n.select;
        add_all(h_, q.q);
        h_.add_value(static_cast<int>(q.method));
        h_.add_value(static_cast<int>(q.median)).add_value(static_cast<int>(q.skip_nan));
        h_.add_value(static_cast<int>(q.input)).add_value(static_cast<int>(q.output));
        add_bools(h_, q.reduced);
        h_.add(q.name);
        break;
      }
      default:
        break;
    }
    h_.add_value(static_cast<int>(n.weak_scalar));
    add_all(h_, n.permutation);
    h_.add_value(n.axis);
    if (n.taken) add_all(h_, *n.taken);
    if (n.offsets) add_all(h_, *n.offsets);
    return id;
  }

  digest finish() const { return h_.finish(); }

 private:
  hasher h_;
  std::unordered_map<const void*, std::uint64_t> input_;
  std::unordered_map<const node*, std::uint64_t> ids_;
};

}  // namespace

std::vector<expression_input> inputs_of(const array& a) {
  std::vector<expression_input> out;
  for (const node* s : sources_of(node_of(a))) {
    expression_input in;
    if (s->kind == node_kind::zarr_source)
      in.zarr = s->zarr;
    else
      in.source = s->source;
    out.push_back(std::move(in));
  }
  return out;
}

digest expression_digest(const array& a) {
  dag_hasher h(node_of(a));
  h.visit(node_of(a));
  return h.finish();
}

}  // namespace chunkarr
