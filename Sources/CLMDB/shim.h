// The system LMDB (Debian liblmdb-dev 0.9.24). Swift can call every function of lmdb.h
// directly, so this shim only includes the header; no wrappers are needed. <sys/vfs.h> gives
// statfs(2), which Glibc's module does not export: the LMDB module refuses network file systems.
#ifndef BOMFLOW_CLMDB_SHIM_H
#define BOMFLOW_CLMDB_SHIM_H
#include <lmdb.h>
#include <sys/vfs.h>
#endif
