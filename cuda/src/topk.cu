// SPDX-License-Identifier: Apache-2.0
// Per-row top-k on the GPU with the CPU reference's exact ranking (cpp/src/cpu/topk.cpp).
//
// Every (score, column) maps to the CPU's 64-bit rank key: unsigned order = ranking order (NaN
// lowest, −0 = +0, ties to the lower column), all keys of a row distinct, and 0 is never a key
// (the column word of a real key is ≥ 1), so 0 marks an empty or excluded slot. A block streams
// its row once with 128-bit loads; a score enters a shared candidate buffer only when it reaches
// the score of `thr`, the k-th best key kept so far (one float compare a score; keys are formed
// only for candidates). When the buffer fills, the block radix-selects the k-th largest of
// (kept ∪ buffer) and keeps exactly the keys at or above it. The kept set is a
// function of the data alone (keys are distinct), so the order of atomics never shows in the
// result: two runs are bitwise identical. Rows with few blocks' worth of work are split across
// blocks whose partial top-k are merged by a second kernel; k > 2048 keeps its sets in global
// scratch instead of shared memory.
#include <algorithm>
#include <cstdint>

#include <math_constants.h>

#include "cpu/topk_terms.hpp"
#include "dsstne/cuda/context.cuh"
#include "dsstne/cuda/error.cuh"
#include "dsstne/kernels.hpp"
#include "kernel_checks.hpp"

namespace dsstne::cuda {
namespace {

using terms::column_of;
using terms::kNoIndex;
using terms::rank_key;
constexpr int kThreads = 256;                    // 2 blocks per SM at ~128 registers
constexpr int kWarps = kThreads / 32;
constexpr int kVec = 4;                          // float4 loads per thread per tile
constexpr int kTile = kThreads * kVec * 4;       // scores per tile = most keys it can add
constexpr int64_t kSharedK = 2048;               // largest k whose sets live in shared memory
constexpr int64_t kMinFlush = 2048;              // buffer keys that trigger a selection
constexpr int64_t kMinSplit = 16384;             // fewest columns a split of a row gets
constexpr int kHashBits = 11;
constexpr int kHashSlots = 1 << kHashBits;       // shared hash set of excluded columns
constexpr int kHashChunk = kHashSlots / 2;       // list entries per build (load ≤ 1/2)
constexpr uint32_t kEmptySlot = 0xFFFFFFFFu;     // never a local column (cols < 2^32 − 1)
constexpr unsigned kFull = 0xFFFFFFFFu;
constexpr std::size_t kGlobalArenaBudget = std::size_t{1} << 30;  // bytes, large-k path

__device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ __forceinline__ uint64_t umin64(uint64_t a, uint64_t b) { return a < b ? a : b; }
__device__ __forceinline__ uint64_t umax64(uint64_t a, uint64_t b) { return a > b ? a : b; }

struct TopkArgs {
  const float* scores;       // rows × cols
  int64_t rows, cols, col_begin, k;
  int kk;                    // keys kept per row: min(k, cols)
  int flush_at;              // buffer fill that triggers a selection (≤ bufcap − kTile)
  int bufcap;                // buffer capacity in keys
  const int64_t* ex_offsets; // exclusion CSR (device), or null
  const uint32_t* ex_indices;
  float* out_scores;         // rows × k
  uint32_t* out_indices;     // rows × k
  uint64_t* partial;         // rows × splits × kk keys, when splits > 1
  int splits;
  int64_t split_len;         // columns per split (multiple of 4)
  uint64_t* global_arena;    // per-block arenas when kk > kSharedK, else null
};

struct Shared {
  uint32_t hist[256];
  uint64_t red_max[kWarps], red_min[kWarps];
  int red_n[kWarps];
  uint64_t thr;  // candidates must have key > thr
  int nbuf, cnt, counter;
  int bin, above, bin_count;
};

/// The block's key sets: `top` holds the kept keys (≤ kk, unordered), `spare` receives the next
/// kept set, `buf` collects candidates and later holds the final sort (a power of two ≥ kk).
struct Arena {
  uint64_t* top;
  uint64_t* spare;
  uint64_t* buf;
};

/// Exclusions of the current row restricted to local columns [lo, hi), as a hash set.
struct Exclusions {
  const uint32_t* indices = nullptr;  // null: no exclusions
  uint32_t* table = nullptr;          // shared, kHashSlots
  int64_t begin = 0, end = 0;         // the row's list entries
  int64_t col_begin = 0, lo = 0, hi = 0;
  bool resident = false;              // whole list built once into the table
};

__device__ __forceinline__ uint32_t hash_slot(uint32_t c) {
  return (c * 2654435761u) >> (32 - kHashBits);  // Fibonacci hashing
}

// Fills the table with the in-range columns of list entries [e0, e1) (≤ kHashChunk of them).
__device__ void build_exclusions(const Exclusions& ex, int64_t e0, int64_t e1) {
  for (int i = threadIdx.x; i < kHashSlots; i += kThreads) ex.table[i] = kEmptySlot;
  __syncthreads();
  for (int64_t e = e0 + threadIdx.x; e < e1; e += kThreads) {
    const int64_t c = static_cast<int64_t>(ex.indices[e]) - ex.col_begin;
    if (c < ex.lo || c >= ex.hi) continue;
    uint32_t slot = hash_slot(static_cast<uint32_t>(c));
    for (;;) {  // linear probing; a duplicate entry finds itself
      const uint32_t prev = atomicCAS(&ex.table[slot], kEmptySlot, static_cast<uint32_t>(c));
      if (prev == kEmptySlot || prev == static_cast<uint32_t>(c)) break;
      slot = (slot + 1) & (kHashSlots - 1);
    }
  }
  __syncthreads();
}

__device__ __forceinline__ bool excluded(const uint32_t* table, uint32_t c) {
  for (uint32_t slot = hash_slot(c);; slot = (slot + 1) & (kHashSlots - 1)) {
    const uint32_t v = table[slot];
    if (v == c) return true;
    if (v == kEmptySlot) return false;
  }
}

// Zeroes the buffered keys of excluded columns (they then never count toward k). Long lists
// are checked in table-sized chunks.
__device__ void drop_excluded(const Exclusions& ex, uint64_t* buf, int n) {
  if (ex.indices == nullptr || ex.end == ex.begin) return;
  for (int64_t e0 = ex.begin; e0 < ex.end; e0 += kHashChunk) {
    if (!ex.resident) build_exclusions(ex, e0, min64(e0 + kHashChunk, ex.end));
    for (int i = threadIdx.x; i < n; i += kThreads) {
      const uint64_t key = buf[i];
      if (key != 0 && excluded(ex.table, column_of(key))) buf[i] = 0;
    }
    __syncthreads();
    if (ex.resident) break;
  }
}

// Block-wide: largest key, smallest nonzero key of top ∪ buf, and nonzero keys in buf.
__device__ void key_stats(const uint64_t* top, int cnt, const uint64_t* buf, int n, Shared& s,
                          uint64_t& mx, uint64_t& mn, int& nz) {
  uint64_t lmx = 0, lmn = ~uint64_t{0};
  int lnz = 0;
  for (int i = threadIdx.x; i < cnt; i += kThreads) {
    lmx = umax64(lmx, top[i]);
    lmn = umin64(lmn, top[i]);
  }
  for (int i = threadIdx.x; i < n; i += kThreads) {
    const uint64_t key = buf[i];
    if (key == 0) continue;
    lmx = umax64(lmx, key);
    lmn = umin64(lmn, key);
    ++lnz;
  }
  for (int o = 16; o > 0; o /= 2) {
    lmx = umax64(lmx, __shfl_xor_sync(kFull, lmx, o));
    lmn = umin64(lmn, __shfl_xor_sync(kFull, lmn, o));
    lnz += __shfl_xor_sync(kFull, lnz, o);
  }
  const int warp = threadIdx.x / 32;
  if (threadIdx.x % 32 == 0) {
    s.red_max[warp] = lmx;
    s.red_min[warp] = lmn;
    s.red_n[warp] = lnz;
  }
  __syncthreads();
  mx = 0;
  mn = ~uint64_t{0};
  nz = 0;
  for (int w = 0; w < kWarps; ++w) {
    mx = umax64(mx, s.red_max[w]);
    mn = umin64(mn, s.red_min[w]);
    nz += s.red_n[w];
  }
  __syncthreads();  // the reduction slots are free again
}

// Block-wide radix select: a T such that exactly `need` nonzero keys of top ∪ buf are ≥ T (more
// than `need` exist; keys are distinct). 8-bit digits below the prefix that the largest and
// smallest keys share; stops early once the k-th key's bin is taken whole (T is then the lowest
// key with that bin's prefix, which may lie below the k-th key: harmless as a filter).
__device__ uint64_t select_threshold(const uint64_t* top, int cnt, const uint64_t* buf, int n,
                                     int need, uint64_t mx, uint64_t mn, Shared& s) {
  int bits = 64 - __clzll(mx ^ mn);  // undetermined low bits
  uint64_t prefix = bits == 64 ? 0 : (mx >> bits) << bits;
  while (bits > 0) {
    const int width = min(8, bits), shift = bits - width;
    for (int i = threadIdx.x; i < 256; i += kThreads) s.hist[i] = 0;
    __syncthreads();
    const uint32_t digit_mask = (1u << width) - 1;
    for (int i = threadIdx.x; i < cnt + n; i += kThreads) {
      const uint64_t key = i < cnt ? top[i] : buf[i - cnt];
      if (key != 0 && (bits == 64 || (key >> bits) == (prefix >> bits)))
        atomicAdd(&s.hist[static_cast<uint32_t>(key >> shift) & digit_mask], 1u);
    }
    __syncthreads();
    if (threadIdx.x < 32) {
      // Lane L owns bins 255−8L … 248−8L, scanned from the top.
      const int lane = threadIdx.x;
      int sum = 0;
      for (int j = 0; j < 8; ++j) sum += s.hist[255 - 8 * lane - j];
      int incl = sum;
      for (int o = 1; o < 32; o *= 2) {
        const int y = __shfl_up_sync(kFull, incl, o);
        if (lane >= o) incl += y;
      }
      int running = incl - sum;
      if (running < need && need <= incl) {
        for (int j = 0; j < 8; ++j) {
          const int b = 255 - 8 * lane - j;
          const int c = static_cast<int>(s.hist[b]);
          if (running + c >= need) {
            s.bin = b;
            s.above = running;
            s.bin_count = c;
            break;
          }
          running += c;
        }
      }
    }
    __syncthreads();
    need -= s.above;
    prefix |= static_cast<uint64_t>(s.bin) << shift;
    bits = shift;
    const bool whole_bin = need == s.bin_count;
    __syncthreads();  // everyone has read the result before the next pass reuses it
    if (whole_bin) break;
  }
  return prefix;
}

// Copies the keys ≥ t (t ≥ 1) of top ∪ buf into out, in any order.
__device__ void keep_at_least(const uint64_t* top, int cnt, const uint64_t* buf, int n,
                              uint64_t t, uint64_t* out, Shared& s) {
  if (threadIdx.x == 0) s.counter = 0;
  __syncthreads();
  const int lane = threadIdx.x % 32;
  for (int base = 0; base < cnt + n; base += kThreads) {
    const int i = base + threadIdx.x;
    const uint64_t key = i < cnt ? top[i] : (i < cnt + n ? buf[i - cnt] : 0);
    const bool keep = key >= t;
    const unsigned ballot = __ballot_sync(kFull, keep);
    if (ballot == 0) continue;
    int first = 0;
    if (lane == 0) first = atomicAdd(&s.counter, __popc(ballot));
    first = __shfl_sync(kFull, first, 0);
    if (keep) out[first + __popc(ballot & ((1u << lane) - 1))] = key;
  }
}

// Merges the buffer into the kept set: afterwards top holds the best min(kk, seen) keys, the
// buffer is empty and thr is the smallest key a newcomer must beat. Block-uniform call.
__device__ void flush(Arena& a, Shared& s, const Exclusions& ex, int kk) {
  const int n = s.nbuf, cnt = s.cnt;
  drop_excluded(ex, a.buf, n);
  uint64_t mx, mn;
  int nz;
  key_stats(a.top, cnt, a.buf, n, s, mx, mn, nz);
  if (nz > 0) {
    uint64_t t = 1;  // fewer than kk keys: keep them all
    if (cnt + nz == kk) t = mn;
    if (cnt + nz > kk) t = select_threshold(a.top, cnt, a.buf, n, kk, mx, mn, s);
    keep_at_least(a.top, cnt, a.buf, n, t, a.spare, s);
    uint64_t* const kept = a.spare;
    a.spare = a.top;
    a.top = kept;
    __syncthreads();
    if (threadIdx.x == 0) {
      s.cnt = min(cnt + nz, kk);
      s.thr = cnt + nz >= kk ? t : 0;
    }
  }
  if (threadIdx.x == 0) s.nbuf = 0;
  __syncthreads();
}

// Appends this thread's candidates (bits of `mask` select among keys[]) to the buffer with one
// shared atomic per warp; returns the buffer fill after the warp's append (lane 31), else 0.
template <int N>
__device__ __forceinline__ int push(const uint64_t (&keys)[N], unsigned mask, uint64_t* buf,
                                    Shared& s) {
  if (!__any_sync(kFull, mask != 0)) return 0;
  const int lane = threadIdx.x % 32;
  const int mine = __popc(mask);
  int incl = mine;
  for (int o = 1; o < 32; o *= 2) {
    const int y = __shfl_up_sync(kFull, incl, o);
    if (lane >= o) incl += y;
  }
  int first = 0;
  if (lane == 31) first = atomicAdd(&s.nbuf, incl);
  first = __shfl_sync(kFull, first, 31);
  int pos = first + incl - mine;
#pragma unroll
  for (int j = 0; j < N; ++j)
    if (mask & (1u << j)) buf[pos++] = keys[j];
  return lane == 31 ? first + incl : 0;
}

/// The smallest score a newcomer needs while keys must beat `thr`: the score of thr's order word
/// (every score ≥ it has that word or a higher one). A float compare against it
/// is the whole per-score test of the scan; keys are formed for the rare warp that has a
/// candidate, and a score that ties the word but not the key only costs a buffer slot (the next
/// selection drops it). `all` when the word is 0 (no threshold yet, or NaN is the k-th best).
struct ScoreBar {
  float min_score;
  bool all;
};

__device__ __forceinline__ ScoreBar score_bar(uint64_t thr) {
  const uint32_t order = static_cast<uint32_t>(thr >> 32);
  return ScoreBar{terms::score_of_order(order), order == 0};
}

// Streams local columns [c0, c1) of one row through the buffer: scalar loads up to 16-byte
// alignment and for the last < 4 columns, kVec float4 loads per thread and tile in between.
__device__ void scan_scores(const float* row, int64_t c0, int64_t c1, Arena& a, Shared& s,
                            const Exclusions& ex, const TopkArgs& p) {
  const float* start = row + c0;
  const int64_t n = c1 - c0;
  const int64_t head =
      min64(n, static_cast<int64_t>(((16 - (reinterpret_cast<uintptr_t>(start) & 15)) & 15) / 4));
  const int64_t nvec = (n - head) / 4;
  const int64_t tail = n - head - 4 * nvec;
  {
    uint64_t key[1] = {0};
    const int t = threadIdx.x;
    if (t < head) key[0] = rank_key(start[t], static_cast<uint32_t>(c0 + t));
    if (t >= head && t < head + tail) {
      const int64_t c = head + 4 * nvec + (t - head);
      key[0] = rank_key(start[c], static_cast<uint32_t>(c0 + c));
    }
    push(key, key[0] != 0 ? 1u : 0u, a.buf, s);  // s.thr is 0 here: every key is a candidate
    __syncthreads();
  }
  // Per thread: float4 j of tile t is vec[t·kThreads·kVec + j·kThreads + tid]. The next tile's
  // loads are issued before the current tile is examined, so two tiles are in flight.
  const float4* vec = reinterpret_cast<const float4*>(start + head);
  ScoreBar bar = score_bar(s.thr);
  float4 cur[kVec], next[kVec];
#pragma unroll
  for (int j = 0; j < kVec; ++j) {
    const int64_t i = int64_t{j} * kThreads + threadIdx.x;
    if (i < nvec) cur[j] = __ldcs(vec + i);  // read once: evict first from L2
  }
  for (int64_t t0 = 0; t0 < nvec; t0 += kThreads * kVec) {
    const int64_t t1 = t0 + kThreads * kVec;
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      const int64_t i = t1 + int64_t{j} * kThreads + threadIdx.x;
      if (i < nvec) next[j] = __ldcs(vec + i);
    }
    unsigned mask = 0;
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      const int64_t i = t0 + int64_t{j} * kThreads + threadIdx.x;
      const float v[4] = {cur[j].x, cur[j].y, cur[j].z, cur[j].w};
      if (i < nvec) {
#pragma unroll
        for (int q = 0; q < 4; ++q)
          if (bar.all || v[q] >= bar.min_score) mask |= 1u << (4 * j + q);
      }
    }
    int fill = 0;
    if (__any_sync(kFull, mask != 0)) {
      uint64_t keys[4 * kVec];
#pragma unroll
      for (int j = 0; j < kVec; ++j) {
        const int64_t i = t0 + int64_t{j} * kThreads + threadIdx.x;
        const uint32_t c = static_cast<uint32_t>(c0 + head + 4 * i);
        keys[4 * j + 0] = rank_key(cur[j].x, c);
        keys[4 * j + 1] = rank_key(cur[j].y, c + 1);
        keys[4 * j + 2] = rank_key(cur[j].z, c + 2);
        keys[4 * j + 3] = rank_key(cur[j].w, c + 3);
      }
      fill = push(keys, mask, a.buf, s);
    }
    if (__syncthreads_or(fill > p.flush_at)) {
      flush(a, s, ex, p.kk);
      bar = score_bar(s.thr);
    }
#pragma unroll
    for (int j = 0; j < kVec; ++j) cur[j] = next[j];
  }
  flush(a, s, ex, p.kk);
}

// Streams n keys (zeros are padding) through the buffer.
__device__ void scan_keys(const uint64_t* src, int64_t n, Arena& a, Shared& s,
                          const Exclusions& ex, const TopkArgs& p) {
  constexpr int kPer = kTile / kThreads;
  uint64_t thr = 0;
  for (int64_t t0 = 0; t0 < n; t0 += kTile) {
    uint64_t keys[kPer];
    unsigned mask = 0;
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      const int64_t i = t0 + int64_t{j} * kThreads + threadIdx.x;
      keys[j] = i < n ? src[i] : 0;
      if (keys[j] > thr) mask |= 1u << j;
    }
    const int fill = push(keys, mask, a.buf, s);
    if (__syncthreads_or(fill > p.flush_at)) {
      flush(a, s, ex, p.kk);
      thr = s.thr;
    }
  }
  flush(a, s, ex, p.kk);
}

// Sorts the kept keys descending into buf[0, cnt) (bitonic network over a power of two).
__device__ void sort_kept(Arena& a, int cnt) {
  int size = 1;
  while (size < cnt) size *= 2;
  for (int i = threadIdx.x; i < size; i += kThreads) a.buf[i] = i < cnt ? a.top[i] : 0;
  __syncthreads();
  for (int block = 2; block <= size; block *= 2) {
    for (int stride = block / 2; stride > 0; stride /= 2) {
      for (int i = threadIdx.x; i < size / 2; i += kThreads) {
        const int lo = 2 * i - (i & (stride - 1)), hi = lo + stride;
        const uint64_t x = a.buf[lo], y = a.buf[hi];
        const bool descending = (lo & block) == 0;
        if ((x < y) == descending) {
          a.buf[lo] = y;
          a.buf[hi] = x;
        }
      }
      __syncthreads();
    }
  }
}

// Writes row r's answer: sorted kept keys as (stored score, col_begin + column), then padding.
__device__ void write_row(const TopkArgs& p, int64_t r, const uint64_t* sorted, int cnt) {
  const float* row = p.scores + r * p.cols;
  float* os = p.out_scores + r * p.k;
  uint32_t* oi = p.out_indices + r * p.k;
  for (int64_t j = threadIdx.x; j < p.k; j += kThreads) {
    if (j < cnt) {
      const uint32_t c = column_of(sorted[j]);
      os[j] = row[c];  // the stored score itself (−0 and NaN payloads survive)
      oi[j] = static_cast<uint32_t>(p.col_begin + c);
    } else {
      os[j] = -CUDART_INF_F;
      oi[j] = kNoIndex;
    }
  }
}

__device__ Arena make_arena(const TopkArgs& p, uint64_t* shared_keys) {
  uint64_t* base = p.global_arena == nullptr
                       ? shared_keys
                       : p.global_arena + int64_t{blockIdx.x} * (2 * p.kk + p.bufcap);
  return Arena{base, base + p.kk, base + 2 * p.kk};
}

__device__ void reset(Shared& s) {
  if (threadIdx.x == 0) {
    s.thr = 0;
    s.nbuf = 0;
    s.cnt = 0;
  }
  __syncthreads();
}

// Grid: one block per (row, split) work item, or fewer blocks looping over rows (global arena).
// Dynamic shared memory: [exclusion hash set][key arena when kk ≤ kSharedK].
__global__ void __launch_bounds__(kThreads) topk_rows_kernel(TopkArgs p) {
  extern __shared__ __align__(16) unsigned char dynamic[];
  __shared__ Shared s;
  uint32_t* table = reinterpret_cast<uint32_t*>(dynamic);
  uint64_t* shared_keys =
      reinterpret_cast<uint64_t*>(dynamic + (p.ex_indices ? kHashSlots * sizeof(uint32_t) : 0));
  Arena a = make_arena(p, shared_keys);
  const int64_t items = p.rows * p.splits;
  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    const int64_t r = item / p.splits, split = item % p.splits;
    const int64_t c0 = split * p.split_len, c1 = min64(p.cols, c0 + p.split_len);
    reset(s);
    Exclusions ex;
    if (p.ex_indices != nullptr) {
      ex.indices = p.ex_indices;
      ex.table = table;
      ex.begin = p.ex_offsets[r];
      ex.end = p.ex_offsets[r + 1];
      ex.col_begin = p.col_begin;
      ex.lo = c0;
      ex.hi = c1;
      ex.resident = ex.end - ex.begin <= kHashChunk;
      if (ex.resident) build_exclusions(ex, ex.begin, ex.end);
    }
    scan_scores(p.scores + r * p.cols, c0, c1, a, s, ex, p);
    const int cnt = s.cnt;
    if (p.splits == 1) {
      sort_kept(a, cnt);
      write_row(p, r, a.buf, cnt);
    } else {
      uint64_t* out = p.partial + item * p.kk;
      for (int j = threadIdx.x; j < p.kk; j += kThreads) out[j] = j < cnt ? a.top[j] : 0;
    }
    __syncthreads();  // the arena and table are reused by the next item
  }
}

// Grid: one block per row; merges the row's splits × kk partial keys (exclusions already applied).
__global__ void __launch_bounds__(kThreads) topk_merge_kernel(TopkArgs p) {
  extern __shared__ __align__(16) unsigned char dynamic[];
  __shared__ Shared s;
  Arena a = make_arena(p, reinterpret_cast<uint64_t*>(dynamic));
  const int64_t r = blockIdx.x;
  reset(s);
  scan_keys(p.partial + r * p.splits * p.kk, int64_t{p.splits} * p.kk, a, s, Exclusions{}, p);
  const int cnt = s.cnt;
  sort_kept(a, cnt);
  write_row(p, r, a.buf, cnt);
}

// Grid: blocks_for(rows·k); every output slot is padding (no columns).
__global__ void topk_pad_kernel(float* out_scores, uint32_t* out_indices, int64_t n) {
  const int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i < n) {
    out_scores[i] = -CUDART_INF_F;
    out_indices[i] = kNoIndex;
  }
}

int resident_blocks(const void* kernel, std::size_t smem) {
  int device = 0, sms = 0, per_sm = 0;
  DSSTNE_CUDA_TRY(cudaGetDevice(&device));
  DSSTNE_CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  DSSTNE_CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(smem)));
  // Most of L1 as shared memory: the scores stream through once, so L1 caching buys nothing.
  DSSTNE_CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                       cudaSharedmemCarveoutMaxShared));
  DSSTNE_CUDA_TRY(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, smem));
  return std::max(1, per_sm) * sms;
}

}  // namespace

void topk(const Context& ctx, const float* scores, int64_t rows, int64_t cols, int64_t col_begin,
          int64_t k, const CsrView* exclude, float* out_scores, uint32_t* out_indices) {
  // scores: rows × cols; out_scores, out_indices: rows × k.
  if (!checks::topk(ctx, scores, rows, cols, col_begin, k, exclude, out_scores, out_indices))
    return;
  const StreamScope s(ctx);
  if (cols == 0) {
    topk_pad_kernel<<<blocks_for(rows * k, 256), 256, 0, s.stream()>>>(out_scores, out_indices,
                                                                       rows * k);
    DSSTNE_CHECK_LAST_KERNEL();
    return;
  }
  const int64_t kk = std::min(k, cols);
  // The buffer also holds the final sort (a power of two ≥ kk).
  const int64_t flush_at = std::max(2 * kk, kMinFlush);
  int64_t sort_size = 1;
  while (sort_size < kk) sort_size *= 2;
  const int64_t bufcap = std::max(flush_at + kTile, sort_size);
  const int64_t arena_keys = 2 * kk + bufcap;
  DSSTNE_EXPECTS_T(OutOfMemory, arena_keys < (int64_t{1} << 31), "topk: k=", k,
                   " needs more selection workspace than one block can index");

  TopkArgs p{};
  p.scores = scores;
  p.rows = rows;
  p.cols = cols;
  p.col_begin = col_begin;
  p.k = k;
  p.kk = static_cast<int>(kk);
  p.flush_at = static_cast<int>(flush_at);
  p.bufcap = static_cast<int>(bufcap);
  if (exclude != nullptr) {
    p.ex_offsets = exclude->offsets;
    p.ex_indices = exclude->indices;
  }
  p.out_scores = out_scores;
  p.out_indices = out_indices;
  p.splits = 1;
  p.split_len = cols;

  const std::size_t table_bytes = p.ex_indices ? kHashSlots * sizeof(uint32_t) : 0;
  const std::size_t arena_bytes = static_cast<std::size_t>(arena_keys) * sizeof(uint64_t);
  if (kk <= kSharedK) {
    const std::size_t smem = table_bytes + arena_bytes;
    const int resident = resident_blocks(reinterpret_cast<const void*>(topk_rows_kernel), smem);
    // Few rows: split each row so that about two waves of blocks stream the scores.
    if (rows < resident) {
      const int64_t want = (2 * int64_t{resident} + rows - 1) / rows;
      const int64_t most = std::max<int64_t>(1, cols / std::max(kMinSplit, 4 * kk));
      const int64_t splits = std::min(want, most);
      p.split_len = ((cols + splits - 1) / splits + 3) / 4 * 4;
      p.splits = static_cast<int>((cols + p.split_len - 1) / p.split_len);
    }
    if (p.splits == 1) {
      topk_rows_kernel<<<static_cast<unsigned int>(rows), kThreads, smem, s.stream()>>>(p);
      DSSTNE_CHECK_LAST_KERNEL();
      return;
    }
    const auto n_partial = static_cast<std::size_t>(rows * p.splits * kk);
    Scratch scratch(s, Scratch::round_up(n_partial * sizeof(uint64_t)), "topk");
    p.partial = scratch.take<uint64_t>(n_partial);
    topk_rows_kernel<<<static_cast<unsigned int>(rows * p.splits), kThreads, smem, s.stream()>>>(
        p);
    DSSTNE_CHECK_LAST_KERNEL();
    resident_blocks(reinterpret_cast<const void*>(topk_merge_kernel), arena_bytes);
    topk_merge_kernel<<<static_cast<unsigned int>(rows), kThreads, arena_bytes, s.stream()>>>(p);
    DSSTNE_CHECK_LAST_KERNEL();
    return;
  }
  // Large k: each block keeps its sets in global scratch and loops over rows.
  const int resident =
      resident_blocks(reinterpret_cast<const void*>(topk_rows_kernel), table_bytes);
  const int64_t fit = std::max<int64_t>(1, static_cast<int64_t>(kGlobalArenaBudget / arena_bytes));
  const int64_t blocks = std::min<int64_t>({rows, int64_t{resident}, fit});
  const auto arena_keys_all = static_cast<std::size_t>(blocks) * arena_bytes / sizeof(uint64_t);
  Scratch scratch(s, Scratch::round_up(arena_keys_all * sizeof(uint64_t)), "topk");
  p.global_arena = scratch.take<uint64_t>(arena_keys_all);
  topk_rows_kernel<<<static_cast<unsigned int>(blocks), kThreads, table_bytes, s.stream()>>>(p);
  DSSTNE_CHECK_LAST_KERNEL();
}

}  // namespace dsstne::cuda
