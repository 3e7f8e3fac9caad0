/**
 * DIN's local activation unit: a(h_j, t) from [h_j, t, h_j − t, h_j ⊙ t] with an MLP, and the
 * attention weights w_j it gives.
 *
 * The attention's first layer is computed without materialising the [B, L, 4d] concatenation:
 * with W = [Wh; Wt; Wd; Wp],
 *
 *   [h, t, h − t, h ⊙ t]·W + b = h·(Wh + Wd) + (h ⊙ t)·Wp + (t·(Wt − Wd) + b)
 *
 * and the last term depends on the row only, so it is computed once per row ([B, 80]) and
 * broadcast over the L history positions (see `bench/NOTES.md` for the measured gain). The
 * concatenation form is kept ({@link AttentionForm} "naive") to test the identity.
 *
 * The activation unit works **time-major** ([L, B, ...]): the history ids are transposed once
 * (an int32 [B, L] tensor) before the lookup, so every per-row term (the target t, the per-row
 * part of the first layer) is broadcast over the leading axis, which tfjs's cpu backend does
 * 1.5x faster per training step than the [B, 1, H] broadcast of the batch-major layout (wasm
 * is indifferent; `bench/NOTES.md`).
 *
 * @module
 */
import { type Fused, Mlp, type Tensor, type TensorBackend } from "@causald/core"
import * as Dense from "../Dense.ts"
import type { DinConfig, DinModel } from "./Config.ts"

/**
 * How the activation unit's first layer is computed: "fast" (per-row target term, no [B, L, 4d]
 * tensor) or "naive" (the concatenation, as DeepCTR writes it). Equal up to rounding.
 */
export type AttentionForm = "fast" | "naive"

/** First-layer pre-activation [L·B, H] by the concatenation [h, t, h − t, h ⊙ t], in parts. */
const firstLayerNaive = (
  b: TensorBackend,
  model: DinModel,
  h: Tensor,
  t: Tensor,
): Fused.PreActivation => {
  const [length, rows, d] = h.shape as [number, number, number]
  const tiled = b.broadcastTo(t, [length, rows, d])
  const x = b.reshape(b.concat([h, tiled, b.sub(h, tiled), b.mul(h, tiled)], 2), [
    length * rows,
    4 * d,
  ])
  const mlp = model.attention.mlp
  return { x: b.matmul(x, mlp.weights[0]!.value), bias: mlp.biases[0]!.value }
}

/**
 * The first attention layer split by its input blocks [h, t, h − t, h ⊙ t] (module
 * documentation): h·(W_h + W_d) per history item, (h ⊙ t)·W_p per pair, and the per-row term
 * t·(W_t − W_d) + b computed once per target.
 */
export const firstLayerTerms = (b: TensorBackend, model: DinModel) => {
  const d = model.config.embeddingSize
  const mlp = model.attention.mlp
  const [wh, wt, wd, wp] = Mlp.firstLayerBlocks(b, mlp, [d, d, d, d]) as [
    Tensor,
    Tensor,
    Tensor,
    Tensor,
  ]
  return {
    history: b.add(wh, wd),
    product: wp,
    perRow: (t: Tensor): Tensor => b.add(b.matmul(t, b.sub(wt, wd)), mlp.biases[0]!.value),
  }
}

/**
 * First-layer pre-activation [L·B, H] by the block identity of the module documentation, in
 * parts: h·(W_h + W_d) + (h ⊙ t)·W_p per item, the per-row term [B, H] as the bias of row
 * n mod B (time-major rows n = j·B + r), so that the sums and the sigmoid can be one pass.
 */
const firstLayerFast = (
  b: TensorBackend,
  model: DinModel,
  h: Tensor,
  t: Tensor,
): Fused.PreActivation => {
  const [length, rows, d] = h.shape as [number, number, number]
  const first = firstLayerTerms(b, model)
  const products = b.reshape(b.mul(h, t), [length * rows, d])
  return {
    x: b.matmul(b.reshape(h, [length * rows, d]), first.history),
    addend: b.matmul(products, first.product),
    bias: first.perRow(t),
  }
}

/**
 * The activation unit's raw output a(h_j, t) [L, B], time-major, for history embeddings
 * h [L, B, d] and target embeddings t [B, d], before masking. `mask` [L, B] keeps padding out of
 * Dice's batch statistics.
 */
export const attentionLogits = (
  b: TensorBackend,
  model: DinModel,
  h: Tensor,
  t: Tensor,
  mask: Tensor,
  mode: Dense.Mode,
  form: AttentionForm = "fast",
): Tensor => {
  const [length, rows] = h.shape as [number, number]
  const pre = form === "fast" ? firstLayerFast(b, model, h, t) : firstLayerNaive(b, model, h, t)
  const flatMask = b.reshape(mask, [length * rows])
  return b.reshape(Dense.continueFrom(b, model.attention, pre, mode, flatMask), [length, rows])
}

/**
 * Weights w [L, B] from the activation unit's output [L, B]: masked, optionally softmax over
 * the real items of each row.
 */
export const attentionWeights = (
  b: TensorBackend,
  normalization: DinConfig["attentionNormalization"],
  logits: Tensor,
  mask: Tensor,
): Tensor => {
  if (normalization === "none") return b.mul(logits, mask)
  // Padding gets -1e9 before the softmax, so exp underflows to exactly 0 there. tfjs's softmax
  // runs over the last axis only: rows go last for it ([B, L]).
  const shifted = b.add(logits, b.mul(b.sub(mask, b.scalar(1)), b.scalar(1e9)))
  return b.mul(b.transpose(b.softmax(b.transpose(shifted), -1)), mask)
}
