/**
 * Element-wise chains that a backend may run as one fused kernel ({@link TensorBackend.biasSigmoid},
 * {@link TensorBackend.rowWeightedSum}, {@link TensorBackend.broadcastReluDot}, {@link TensorBackend.gatherWeightedSum}), defined here by their composition of interface ops,
 * which is what runs on a backend without the kernel (and what the kernel is tested against).
 *
 * {@link PreActivation}: a dense layer's pre-activation left as its parts, x (+ addend) + bias,
 * so that the addition and the activation can be one pass. DIN's activation unit has three:
 * the first layer's h·(W_h + W_d) + (h ⊙ t)·W_p + (t·(W_t − W_d) + b) (the per-row term is the
 * bias, per row of the batch, `din/Attention.ts`), and each later layer's h·W + b.
 *
 * @module
 */
import type { Tensor, TensorBackend } from "./Tensor.ts"

/**
 * x (+ addend) + bias[row(n)] for x [N, H]. `bias` is [H] (every row), or [R, H]: with `rows`
 * (int32 [N], values in [0, R)) row n adds bias row rows[n], else row n mod R (N a multiple of
 * R: the time-major [L, B, H] layout with a per-row term [B, H]).
 */
export interface PreActivation {
  readonly x: Tensor
  readonly addend?: Tensor
  readonly bias: Tensor
  readonly rows?: Tensor
}

/**
 * The pre-activation's sum [N, H], composed: (x + addend) + bias, in this order (the fused
 * kernel adds in the same order, so both pre-activations are bit-identical).
 */
export const preActivation = (b: TensorBackend, pre: PreActivation): Tensor => {
  const [n, h] = pre.x.shape as [number, number]
  const sum = pre.addend === undefined ? pre.x : b.add(pre.x, pre.addend)
  if (pre.rows !== undefined) return b.add(sum, b.gather(pre.bias, pre.rows))
  if (pre.bias.shape.length === 1) return b.add(sum, pre.bias)
  const r = pre.bias.shape[0]!
  return b.reshape(b.add(b.reshape(sum, [n / r, r, h]), pre.bias), [n, h])
}

/**
 * sigmoid of the pre-activation [N, H]: the backend's fused kernel where it has one that applies,
 * else {@link preActivation} then `sigmoid`. The gradient flows to x, addend and bias.
 */
export const biasSigmoid = (b: TensorBackend, pre: PreActivation): Tensor => {
  const parts = {
    ...(pre.addend === undefined ? {} : { addend: pre.addend }),
    ...(pre.rows === undefined ? {} : { rows: pre.rows }),
  }
  return b.biasSigmoid?.(pre.x, pre.bias, parts) ?? b.sigmoid(preActivation(b, pre))
}

/**
 * Row-weighted sums out [R, d], out[r] = Σ_{n: row(n) = r} w[n]·h[n] for h [N, d], w [N]:
 * row(n) = rows[n] (int32 [N], values in [0, R)) or n mod R (N a multiple of R). DIN's mediator
 * m = Σ_j w_j h_j (Zhou et al., eq. 3) over packed history pairs or time-major [L·B, d] rows.
 * The backend's fused kernel where it has one that applies, else `composed()`: the caller's
 * composition of the same sum (DIN's differs per history layout, `din/Layouts.ts`), so that the
 * path without the kernel stays the one it was. {@link rowWeightedSumComposed} is a generic one.
 */
export const rowWeightedSum = (
  b: TensorBackend,
  h: Tensor,
  w: Tensor,
  rowCount: number,
  rows: Tensor | undefined,
  composed: () => Tensor,
): Tensor => b.rowWeightedSum?.(h, w, rowCount, rows) ?? composed()

/**
 * {@link rowWeightedSum} composed of interface ops only, rows by id as a one-hot [R, N] product
 * (R·N work: for tests and the conformance suite, which compare the kernels with it, not for
 * training).
 */
export const rowWeightedSumComposed = (
  b: TensorBackend,
  h: Tensor,
  w: Tensor,
  rowCount: number,
  rows: Tensor | undefined,
): Tensor => {
  const [n, d] = h.shape as [number, number]
  const weighted = b.mul(h, b.reshape(w, [n, 1]))
  if (rows === undefined) return b.sum(b.reshape(weighted, [n / rowCount, rowCount, d]), 0)
  // one-hot [R, N] of the rows times the weighted rows: Σ over the pairs of each row
  const oneHot = b.cast(
    b.equal(
      b.reshape(
        b.tensor(
          Int32Array.from({ length: rowCount }, (_, r) => r),
          [rowCount],
          "int32",
        ),
        [rowCount, 1],
      ),
      b.reshape(rows, [1, n]),
    ),
    "float32",
  )
  return b.matmul(oneHot, weighted)
}

/**
 * ψ_FDA's hidden ReLU layer and linear output over the partners of CausalD's causal label
 * (eq. 13 inside eq. 14, `CausalLabel.interventionalClick`): its first layer split into a per-row
 * block `rows` [K, B, h] (teacher mediator and item, the layer's bias included) and a per-partner
 * block `partners` [P, h], row ids[b, s] for partner s of batch row b (int32 [B, S]).
 */
export interface PartnerLayer {
  readonly rows: Tensor
  readonly partners: Tensor
  readonly ids: Tensor
  /** The output layer's weight [h, 1] (or [h]). */
  readonly weight: Tensor
  /** The output layer's bias, one value ([1]). */
  readonly bias: Tensor
}

/**
 * out [K, B, S], out[k, b, s] = Σ_j relu(rows[k, b, j] + partners[ids[b, s], j])·w[j] + bias:
 * the backend's fused kernel where it has one that applies (no [K, B, S, h] tensor), else
 * `composed()`, the caller's composition of the same logits (so that the path without the
 * kernel stays the one it was). {@link broadcastReluDotComposed} is a generic one.
 */
export const broadcastReluDot = (
  b: TensorBackend,
  layer: PartnerLayer,
  composed: () => Tensor,
): Tensor =>
  b.broadcastReluDot?.(layer.rows, layer.partners, layer.ids, layer.weight, layer.bias) ??
  composed()

/**
 * {@link broadcastReluDot} composed of interface ops: gather the partner rows [B, S, h], add them
 * to the per-row block with broadcasting to [K, B, S, h], ReLU, the product with w, the bias.
 */
export const broadcastReluDotComposed = (b: TensorBackend, layer: PartnerLayer): Tensor => {
  const [k, rowCount, h] = layer.rows.shape as [number, number, number]
  const s = layer.ids.shape[1]!
  const pre = b.add(
    b.reshape(layer.rows, [k, rowCount, 1, h]),
    b.expandDims(b.gather(layer.partners, layer.ids), 0),
  )
  const hidden = b.relu(b.reshape(pre, [k * rowCount * s, h]))
  const logits = b.add(b.matmul(hidden, b.reshape(layer.weight, [h, 1])), layer.bias)
  return b.reshape(logits, [k, rowCount, s])
}

/**
 * out [B, d], out[b] = Σ_l w[b, l]·table[ids[b, l]] for table [V, d], ids int32 [B, L], w [B, L]:
 * DeepFM's φ, the masked mean of the history's item embeddings (w = mask / max(Σ mask, 1)). The
 * backend's fused kernel where it has one that applies (no gathered [B, L, d] tensor), else
 * `composed()`, the caller's composition (so that the path without the kernel stays the one it
 * was). {@link gatherWeightedSumComposed} is a generic one.
 */
export const gatherWeightedSum = (
  b: TensorBackend,
  table: Tensor,
  ids: Tensor,
  w: Tensor,
  composed: () => Tensor,
): Tensor => b.gatherWeightedSum?.(table, ids, w) ?? composed()

/** {@link gatherWeightedSum} composed: gather [B, L, d], then [B, 1, L] x [B, L, d]. */
export const gatherWeightedSumComposed = (
  b: TensorBackend,
  table: Tensor,
  ids: Tensor,
  w: Tensor,
): Tensor => {
  const h = b.gather(table, ids)
  const [rows, , d] = h.shape as [number, number, number]
  return b.reshape(b.matmul(b.expandDims(w, 1), h), [rows, d])
}
