// Which of this project's CPU code paths runs: the hand-written AVX-512 kernels, the AVX2 + FMA ones,
// or none of them ("generic": OpenBLAS for the products, and the loops the compiler vectorises).
//
// By default the widest the CPU has. $MASKDM_ISA=avx512|avx2|generic forces a path, so that an
// AVX-512 machine can test and benchmark the others; a path the CPU cannot run falls back to the
// widest below it that it can (with a note on stderr). The older $MASKDM_GEMM=blas means generic.
// set_isa() switches between evaluations (tests run every path the machine supports this way); a
// graph built under one path and evaluated under another still runs correctly (see sgemm.cpp).
#pragma once

namespace cmlx {

enum class Isa { generic = 0, avx2 = 1, avx512 = 2 };

/** The path in use. */
Isa isa();

/** Whether this CPU (and build) can run the path. */
bool isa_supported(Isa path);

/** Switches to `path`; false, changing nothing, when the CPU cannot run it. */
bool set_isa(Isa path);

/** "avx512", "avx2" or "generic". */
const char* isa_name(Isa path);
}  // namespace cmlx
