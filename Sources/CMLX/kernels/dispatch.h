// Running a kernel of ours on MLX's CPU stream: allocate the outputs, then enqueue the work after the
// inputs are ready, holding weak copies (MLX keeps the arrays alive for the task; the pattern of its
// own CPU backend, mlx/backend/cpu/encoder.h).
#pragma once
#include "../internal.h"
#include "mlx/backend/cpu/encoder.h"
#include "mlx/primitives.h"

namespace cmlx {

/** `donors[i]`, when present and not negative, names an input whose buffer output i may take over
 *  (MLX allows it when nothing else holds that input and it is row-major, as MLX's own in-place
 *  element-wise ops do); the body sees whether it did by comparing the two arrays' data pointers. */
template <typename F>
void dispatch_cpu(mx::Stream stream, const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs, F body,
                  const std::vector<int>& donors = {}) {
  auto& encoder = mx::cpu::get_command_encoder(stream);
  std::vector<mx::array> in, out;
  for (auto& a : inputs) {
    encoder.set_input_array(a);
    in.push_back(mx::array::unsafe_weak_copy(a));
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto& o = outputs[i];
    int d = i < donors.size() ? donors[i] : -1;
    if (d >= 0 && inputs[d].is_donatable() && inputs[d].flags().row_contiguous && inputs[d].nbytes() == o.nbytes())
      o.copy_shared_buffer(inputs[d]);
    else
      o.set_data(mx::allocator::malloc(o.nbytes()));
    encoder.set_output_array(o);
    out.push_back(mx::array::unsafe_weak_copy(o));
  }
  encoder.dispatch([in = std::move(in), out = std::move(out), body]() mutable { body(in, out); });
}

/** The stream our kernels run on, or nothing when MLX's own ops must serve (GPU, other dtypes). */
inline std::optional<mx::Stream> kernel_stream(std::initializer_list<const mx::array*> arrays) {
  auto s = mx::default_stream(mx::default_device());
  if (s.device != mx::Device::cpu) return std::nullopt;
  for (auto a : arrays)
    if (a->dtype() != mx::float32) return std::nullopt;
  return s;
}
}  // namespace cmlx
