// Fusion (internal): an elementwise subtree compiled into one block program.
//
// The maximal elementwise subtree under a node becomes a list of instructions over typed
// registers. Its leaves — sources, slices, transposes, materialised reductions, scalars — are
// evaluated once per task into buffers the program reads through strided views; the program
// then runs over the task's output in blocks of `block_elements`, so every temporary is a
// block in L1/L2, never a full chunk per operator (the numexpr idea). Casts that promotion
// needs are inserted here, so kernels only ever see operands of their own dtype.
#pragma once

#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "exec/kernels.hpp"
#include "expr/node.hpp"

namespace chunkarr::detail {

inline constexpr index_t block_elements = 4096;

struct instruction {
  kernel_fn kernel = nullptr;
  std::vector<int> inputs;  // registers
  int output = 0;           // register
};

struct block_program {
  /// Leaf nodes, in register order: register i < leaves.size() is leaf i.
  std::vector<const node*> leaves;
  std::vector<scalar_kind> register_kinds;  // per register
  std::vector<instruction> code;
  int result = 0;  // the register holding the output (of the root's dtype)

  /// Bytes of the registers the program owns (one block each).
  index_t scratch_bytes() const;
};

/// Compiles the elementwise subtree rooted at `root` (which must be elementwise).
block_program compile_program(const node& root);

/// The compiled programs of a plan: one for every elementwise node that a task evaluates as a
/// whole (a stage's root, and the inputs of slices, transposes and rechunks below it). Filled
/// while planning, each node once; read-only, and so safe to share between threads, while the
/// plan runs.
class program_table {
 public:
  /// Compiles what evaluating `root` needs, visiting each node once.
  void add(const node& root);
  /// The program of elementwise node `n`; an internal error when it was never added.
  const block_program& at(const node& n) const;

 private:
  std::unordered_map<const node*, block_program> programs_;
  std::unordered_set<const node*> visited_;
};

}  // namespace chunkarr::detail
