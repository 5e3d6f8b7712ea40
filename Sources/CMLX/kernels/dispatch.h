// Running a kernel of ours on MLX's CPU stream: allocate the outputs, then enqueue the work after the
// inputs are ready, holding weak copies (MLX keeps the arrays alive for the task; the pattern of its
// own CPU backend, mlx/backend/cpu/encoder.h).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include "../internal.h"
#include "mlx/backend/cpu/encoder.h"
#include "mlx/primitives.h"

namespace cmlx {

/** Copies a float32 array of any strides into `dst` in row-major order, a run of the last axis at a
 *  time (one memcpy when that axis is contiguous). */
inline void copy_row_major(const mx::array& a, float* dst) {
  const float* src = a.data<float>();
  const int dims = int(a.ndim());
  if (dims == 0) {
    dst[0] = src[0];
    return;
  }
  const int64_t inner = a.shape(dims - 1), step = a.strides()[dims - 1];
  const size_t runs = inner > 0 ? a.size() / size_t(inner) : 0;
  std::vector<int64_t> index(dims, 0);
  int64_t offset = 0;
  for (size_t r = 0; r < runs; ++r, dst += inner) {
    if (step == 1)
      std::memcpy(dst, src + offset, size_t(inner) * sizeof(float));
    else
      for (int64_t j = 0; j < inner; ++j) dst[j] = src[offset + j * step];
    for (int d = dims - 2; d >= 0; --d) {  // an odometer over the outer axes, the innermost fastest
      offset += a.strides()[d];
      if (++index[d] < a.shape(d)) break;
      offset -= a.strides()[d] * a.shape(d);
      index[d] = 0;
    }
  }
}

/** Whether a kernel's body reads its inputs through their strides, or needs them row-major. */
enum class InputLayout { any, row_major };

/** Gives `o` a fresh row-major buffer whose first element lies on an `alignment`-byte boundary (MLX's
 *  CPU allocator puts a size header in front of each buffer, so its data is only 8-byte aligned): the
 *  buffer is `alignment` bytes larger and the array starts at an offset into it. */
inline void allocate_aligned(mx::array& o, size_t alignment) {
  auto data = mx::allocator::malloc(o.nbytes() + alignment);
  auto address = reinterpret_cast<uintptr_t>(data.buffer().raw_ptr());
  int64_t offset = int64_t((alignment - address % alignment) % alignment);
  mx::Strides strides(o.ndim(), 1);
  for (int d = int(o.ndim()) - 2; d >= 0; --d) strides[d] = strides[d + 1] * o.shape(d + 1);
  mx::array::Flags flags;
  flags.contiguous = true;
  flags.row_contiguous = true;
  // As MLX's own set_data: column-contiguous too when at most one axis is longer than 1.
  const auto& shape = o.shape();
  flags.col_contiguous = o.size() <= 1 || std::find(shape.begin(), shape.end(), int(o.size())) != shape.end();
  o.set_data(std::move(data), o.size(), std::move(strides), flags, offset);
}

/** `donors[i]`, when present and not negative, names an input whose buffer output i may take over
 *  (MLX allows it when nothing else holds that input and it is row-major, as MLX's own in-place
 *  element-wise ops do; never for a primitive of several outputs, whose outputs each hold the inputs);
 *  the body sees whether it did by comparing the two arrays' data pointers.
 *  With InputLayout::row_major, inputs that are not row-major (views) reach the body as row-major
 *  copies made in the task. Kernels ask for this here instead of wrapping their inputs in
 *  mx::contiguous when they build the graph: such a wrapper is a graph node of its own on every step,
 *  and they were half of the s32 training step's 2,067 nodes (964, counted with a uprobe on
 *  Contiguous::eval_cpu), nearly all of them no-ops.
 *  A non-zero `output_alignment` gives every output that is not donated a buffer aligned to it
 *  (allocate_aligned). */
template <typename F>
void dispatch_cpu(mx::Stream stream, const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs, F body,
                  const std::vector<int>& donors = {}, InputLayout layout = InputLayout::any,
                  size_t output_alignment = 0) {
  auto& encoder = mx::cpu::get_command_encoder(stream);
  std::vector<mx::array> in, out, sources;
  std::vector<size_t> copied;
  for (auto& a : inputs) {
    encoder.set_input_array(a);
    if (layout == InputLayout::row_major && !a.flags().row_contiguous) {
      copied.push_back(in.size());
      sources.push_back(mx::array::unsafe_weak_copy(a));
      in.push_back(mx::array(mx::allocator::malloc(a.nbytes()), a.shape(), a.dtype()));
    } else {
      in.push_back(mx::array::unsafe_weak_copy(a));
    }
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto& o = outputs[i];
    int d = i < donors.size() ? donors[i] : -1;
    if (d >= 0 && inputs[d].is_donatable() && inputs[d].flags().row_contiguous && inputs[d].nbytes() == o.nbytes())
      o.copy_shared_buffer(inputs[d]);
    else if (output_alignment > 0)
      allocate_aligned(o, output_alignment);
    else
      o.set_data(mx::allocator::malloc(o.nbytes()));
    encoder.set_output_array(o);
    out.push_back(mx::array::unsafe_weak_copy(o));
  }
  encoder.dispatch([in = std::move(in), out = std::move(out), sources = std::move(sources),
                    copied = std::move(copied), body]() mutable {
    for (size_t i = 0; i < copied.size(); ++i) copy_row_major(sources[i], in[copied[i]].data<float>());
    body(in, out);
  });
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
