/**
 * Pieces of WebAssembly text that the fused SIMD kernels share.
 *
 * @module
 */

/** A load of the current columns at a row pointer (a local's name, e.g. `$px`). */
export type ColumnLoad = (pointer: string) => string
/** A store of `value` to the current columns at a row pointer. */
export type ColumnStore = (pointer: string, value: string) => string

/**
 * A loop over the columns [$j, end) of row pointers, 4 lanes a step (`end` = `${width}4`, the
 * width rounded down to a multiple of 4) or 1 (the tail, `end` = `width`, with single-lane loads
 * whose other lanes are 0 and single-lane stores). `$o` is the columns' byte offset inside the
 * body; the caller sets `$j` before the first loop, and the tail goes on from where it stopped.
 */
export const columnLoop = (
  lanes: 4 | 1,
  width: string,
  body: (load: ColumnLoad, store: ColumnStore) => string,
): string => {
  const load: ColumnLoad = (p) =>
    lanes === 4
      ? `(v128.load (i32.add (local.get ${p}) (local.get $o)))`
      : `(v128.load32_zero (i32.add (local.get ${p}) (local.get $o)))`
  const store: ColumnStore = (p, v) =>
    lanes === 4
      ? `(v128.store (i32.add (local.get ${p}) (local.get $o)) ${v})`
      : `(v128.store32_lane 0 (i32.add (local.get ${p}) (local.get $o)) ${v})`
  return `(block $done${lanes} (loop $cols${lanes}
        (br_if $done${lanes} (i32.ge_u (local.get $j) (local.get ${lanes === 4 ? `${width}4` : width})))
        (local.set $o (i32.shl (local.get $j) (i32.const 2)))
        ${body(load, store)}
        (local.set $j (i32.add (local.get $j) (i32.const ${lanes})))
        (br $cols${lanes})))`
}
