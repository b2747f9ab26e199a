#include "plan/program.hpp"
#include <stdexcept>

#include <map>
#include <set>

#include "chunkarr/core/error.hpp"

namespace chunkarr::detail {
namespace {

class compiler {
 public:
  explicit compiler(block_program& p) : p_(p) {}

  // Registers for leaves come first; collect them before emitting code. Each node once: a DAG
  // that shares subexpressions (y = y + y, forty times) is not walked once per path.
  void collect_leaves(const node& n) {
    if (!visited_.insert(&n).second) return;
    if (n.kind != node_kind::elementwise) {
      if (leaf_registers_.emplace(&n, static_cast<int>(p_.leaves.size())).second) {
        p_.leaves.push_back(&n);
        p_.register_kinds.push_back(n.dtype.kind);
      }
      return;
    }
    for (const node_ptr& in : n.inputs) collect_leaves(*in);
  }

  int emit(const node& n) {
    if (n.kind != node_kind::elementwise) return leaf_registers_.at(&n);
    if (auto it = done_.find(&n); it != done_.end()) return it->second;
    const elementwise_payload& e = n.elementwise;
    std::vector<int> args;
    for (const node_ptr& in : n.inputs) args.push_back(emit(*in));
    int result = 0;
    switch (e.what) {
      case elementwise_kind::cast:
        result = cast_to(args[0], e.compute.kind);
        break;
      case elementwise_kind::unary:
        result = op(unary_kernel(e.unary, e.compute.kind), {cast_to(args[0], e.compute.kind)},
                    n.dtype.kind);
        break;
      case elementwise_kind::binary:
        result =
            op(binary_kernel(e.binary, e.compute.kind),
               {cast_to(args[0], e.compute.kind), cast_to(args[1], e.compute.kind)}, n.dtype.kind);
        break;
      case elementwise_kind::where:
        result = op(where_kernel(e.compute.kind),
                    {cast_to(args[0], scalar_kind::bool_), cast_to(args[1], e.compute.kind),
                     cast_to(args[2], e.compute.kind)},
                    n.dtype.kind);
        break;
    }
    done_.emplace(&n, result);
    return result;
  }

 private:
  int new_register(scalar_kind k) {
    p_.register_kinds.push_back(k);
    return static_cast<int>(p_.register_kinds.size()) - 1;
  }

  int op(kernel_fn kernel, std::vector<int> inputs, scalar_kind out) {
    const int r = new_register(out);
    p_.code.push_back(instruction{kernel, std::move(inputs), r});
    return r;
  }

  int cast_to(int reg, scalar_kind k) {
    const scalar_kind from = p_.register_kinds[reg];
    if (from == k) return reg;
    if (auto it = casts_.find({reg, k}); it != casts_.end()) return it->second;
    const int r = op(cast_kernel(from, k), {reg}, k);
    casts_.emplace(std::pair{reg, k}, r);
    return r;
  }

  block_program& p_;
  std::set<const node*> visited_;
  std::map<const node*, int> leaf_registers_;
  std::map<const node*, int> done_;
  std::map<std::pair<int, scalar_kind>, int> casts_;
};

}  // namespace

index_t block_program::scratch_bytes() const {
  return static_cast<index_t>(register_kinds.size() - leaves.size()) * block_elements * 8;
}

block_program compile_program(const node& root) {
  if (root.kind != node_kind::elementwise) {
    throw std::logic_error("compile_program on a non-elementwise node");
  }
  block_program p;
  compiler c(p);
  c.collect_leaves(root);
  p.result = c.emit(root);
  return p;
}

void program_table::add(const node& root) {
  std::vector<const node*> pending{&root};
  while (!pending.empty()) {
    const node* n = pending.back();
    pending.pop_back();
    if (!visited_.insert(n).second) continue;
    if (n->kind == node_kind::elementwise) {
      block_program& p = programs_.emplace(n, compile_program(*n)).first->second;
      pending.insert(pending.end(), p.leaves.begin(), p.leaves.end());
      continue;
    }
    // Reductions and materialised results are stages of their own: their inputs are planned
    // there, not evaluated here.
    if (n->kind == node_kind::reduction || n->kind == node_kind::materialised) continue;
    for (const node_ptr& in : n->inputs) pending.push_back(in.get());
  }
}

const block_program& program_table::at(const node& n) const {
  const auto it = programs_.find(&n);
  if (it == programs_.end()) {
    throw std::logic_error("no compiled program for " + describe(n));
  }
  return it->second;
}

}  // namespace chunkarr::detail
