/* SPDX-License-Identifier: MIT */
/* Declassification points for the constant-time test build (tests/ct, built
 * with -DUM_CTGRIND and run under valgrind with secrets marked undefined):
 * mark a value that is public by construction (whether an X25519 output is
 * all zero, a tag check's accept/reject verdict) as defined, so valgrind
 * checks everything else. A no-op in every other build. */
#ifndef UM_CRYPTO_CT_H
#define UM_CRYPTO_CT_H

#ifdef UM_CTGRIND
#include <valgrind/memcheck.h>
#define UM_CT_DECLASSIFY(ptr, len) VALGRIND_MAKE_MEM_DEFINED((ptr), (len))
#else
#define UM_CT_DECLASSIFY(ptr, len) ((void)(ptr), (void)(len))
#endif

#endif
