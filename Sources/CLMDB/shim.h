// Debian's liblmdb (liblmdb-dev, installed by scripts/bootstrap.sh): LSUN ships as LMDB exports.
#pragma once
#include <lmdb.h>
