// The system LMDB (Debian liblmdb-dev 0.9.24). Swift can call every function of lmdb.h
// directly, so this shim only includes the header; no wrappers are needed.
#ifndef BOMFLOW_CLMDB_SHIM_H
#define BOMFLOW_CLMDB_SHIM_H
#include <lmdb.h>
#endif
