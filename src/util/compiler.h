/* SPDX-License-Identifier: MIT */
/* Compiler hints shared across modules. */
#ifndef UM_UTIL_COMPILER_H
#define UM_UTIL_COMPILER_H

/* A function on the per-packet path. gcc and clang put hot functions in
 * .text.hot, which the linker lays out together: a packet on an idle tunnel
 * meets cold caches and TLBs, and its code then spans a few pages instead of
 * being scattered over the whole binary. */
#if defined(__GNUC__)
#define UM_HOT __attribute__((hot))
#else
#define UM_HOT
#endif

#endif
