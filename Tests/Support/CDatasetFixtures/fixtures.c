// See fixtures.h.
#include "fixtures.h"

#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <webp/encode.h>

int fixture_encode_webp(const uint8_t* rgb, int width, int height, int lossless, float quality, uint8_t** out,
                        size_t* out_size) {
  int stride = width * 3;
  *out_size = lossless ? WebPEncodeLosslessRGB(rgb, width, height, stride, out)
                       : WebPEncodeRGB(rgb, width, height, stride, quality, out);
  return *out_size == 0;
}

void fixture_free(void* p) { WebPFree(p); }

int fixture_write_lmdb(const char* dir, const char* const* keys, const uint8_t* const* values, const size_t* sizes,
                       int count, char* error, size_t error_size) {
  MDB_env* env = NULL;
  MDB_txn* txn = NULL;
  MDB_dbi dbi;
  int rc = mdb_env_create(&env);
  if (!rc) rc = mdb_env_set_mapsize(env, (size_t)64 << 20);
  if (!rc) rc = mdb_env_open(env, dir, 0, 0644);
  if (!rc) rc = mdb_txn_begin(env, NULL, 0, &txn);
  if (!rc) rc = mdb_dbi_open(txn, NULL, 0, &dbi);
  for (int i = 0; !rc && i < count; ++i) {
    MDB_val key = {strlen(keys[i]), (void*)keys[i]};
    MDB_val value = {sizes[i], (void*)values[i]};
    rc = mdb_put(txn, dbi, &key, &value, 0);
  }
  if (!rc) {
    rc = mdb_txn_commit(txn);
    txn = NULL;
  }
  if (txn) mdb_txn_abort(txn);
  if (rc) snprintf(error, error_size, "%s", mdb_strerror(rc));
  if (env) mdb_env_close(env);
  return rc;
}
