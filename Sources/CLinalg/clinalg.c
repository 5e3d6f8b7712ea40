#include "clinalg.h"

#include <stdlib.h>

// Fortran BLAS/LAPACK entry points of OpenBLAS (column-major).
void dsyrk_(const char* uplo, const char* trans, const int* n, const int* k, const double* alpha, const double* a,
            const int* lda, const double* beta, double* c, const int* ldc);
void dgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* b, const int* ldb, const double* beta, double* c, const int* ldc);
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w, double* work,
             const int* lwork, int* iwork, const int* liwork, int* info);

void clinalg_gram(int n, int d, const double* a, double scale, double* c) {
  // Row-major A (n x d) is column-major A^T (d x n): C = (A^T)(A^T)^T = op "N" on A^T with k = n.
  double alpha = 1.0 / scale, beta = 0.0;
  dsyrk_("U", "N", &d, &n, &alpha, a, &d, &beta, c, &d);
  // The column-major upper triangle that dsyrk wrote is the row-major lower one (row i, column j <= i):
  // mirror it into the row-major upper triangle.
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < i; ++j) c[(size_t)j * d + i] = c[(size_t)i * d + j];
}

int clinalg_symmetric_eigen(int d, double* a, double* w) {
  int info = 0, lwork = -1, liwork = -1, iw = 0;
  double wq = 0;
  dsyevd_("V", "U", &d, a, &d, w, &wq, &lwork, &iw, &liwork, &info);
  if (info != 0) return info;
  lwork = (int)wq;
  liwork = iw;
  double* work = malloc(sizeof(double) * (size_t)lwork);
  int* iwork = malloc(sizeof(int) * (size_t)liwork);
  if (!work || !iwork) {
    free(work);
    free(iwork);
    return -1000;
  }
  dsyevd_("V", "U", &d, a, &d, w, work, &lwork, iwork, &liwork, &info);
  free(work);
  free(iwork);
  return info;
}

void clinalg_matmul(int d, const double* a, const double* b, double* c) {
  // Row-major C = A B  <=>  column-major C^T = B^T A^T.
  double one = 1.0, zero = 0.0;
  dgemm_("N", "N", &d, &d, &d, &one, b, &d, a, &d, &zero, c, &d);
}

void clinalg_gemm_nt(int m, int n, int k, const double* a, const double* b, double* c) {
  // Row-major C = A B^T  <=>  column-major C^T (n x m) = B (n x k, i.e. B^T column-major) ... = op(T) on B^T.
  double one = 1.0, zero = 0.0;
  dgemm_("T", "N", &n, &m, &k, &one, b, &k, a, &k, &zero, c, &n);
}
