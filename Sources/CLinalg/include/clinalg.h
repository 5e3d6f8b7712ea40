// Float64 linear algebra for FID statistics, from OpenBLAS (BLAS + LAPACK), which the project links.
#pragma once
#ifdef __cplusplus
extern "C" {
#endif
/** C = A^T A / scale for A (n x d) row-major: the covariance product, via dsyrk. c is d x d row-major. */
void clinalg_gram(int n, int d, const double* a, double scale, double* c);
/** Eigen-decomposition of the symmetric d x d matrix a (row-major, overwritten by the eigenvectors as
 *  columns of the column-major result); w receives the ascending eigenvalues. Returns LAPACK's info. */
int clinalg_symmetric_eigen(int d, double* a, double* w);
/** C = A B for d x d row-major matrices. */
void clinalg_matmul(int d, const double* a, const double* b, double* c);
/** C (m x n) = A (m x k) B (n x k)^T, all row-major. */
void clinalg_gemm_nt(int m, int n, int k, const double* a, const double* b, double* c);
#ifdef __cplusplus
}
#endif
