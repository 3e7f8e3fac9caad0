/**
 * The scoring graph of a trained model as ONNX (opset 13, IR version 7), weights included, so
 * that it runs in ONNX Runtime or any other ONNX runtime: the student alone, the base model's
 * architecture (the paper's point: CausalD's student costs what the base model costs at
 * inference). Protobuf is written with `onnx-proto` (onnx.proto compiled by protobuf.js).
 *
 * **Inputs** (U users or histories, L history positions, C candidates per user; any U, L, C):
 *
 * | name | type | shape | meaning |
 * |---|---|---|---|
 * | `user` | int64 | [U] | user indices 0..users-1 (DeepFM's user field; DIN ignores it) |
 * | `history` | int64 | [U, L] | item indices 1..items, 0 = padding (no position of a row may be read after its padding starts: histories are left-aligned, oldest first) |
 * | `candidates` | int64 | [U, C] | item indices 1..items to score |
 *
 * **Output**: `scores`, float32 [U, C], the logit ψ*(φ(x), y) of each candidate (eq. 15); the
 * click probability is its sigmoid. Indices are the run's (`<output>.json` beside the model maps
 * them from and to the data's ids, with the provenance).
 *
 * DIN (sigmoid activation unit, unnormalised weights, no user embedding: the study's
 * configuration): the activation unit's first layer in the block form of `Din.ts`,
 * h·(W_h + W_d) + (h ⊙ t)·W_p + (t·(W_t − W_d) + b), then the unit's MLP, the weights masked by
 * history > 0, the mediator m = Σ_j w_j h_j, and ψ* on [m, t]. DeepFM: the masked mean of the
 * history's embeddings as the mediator, then FM (first and second order) and the DNN on
 * [v_user, v_item, m], as `DeepFm.ts`.
 *
 * @module
 */
import type { Parameter, TensorBackend } from "@causald/core"
import type { Din } from "@causald/models"
import { onnx } from "onnx-proto"
import { UseError } from "./Run.ts"

const FLOAT = onnx.TensorProto.DataType.FLOAT
const INT64 = onnx.TensorProto.DataType.INT64

/** The opset the graph is written for. */
export const OPSET = 13

/** A small builder of an ONNX graph: initializers and nodes with generated output names. */
class Graph {
  readonly nodes: Array<onnx.INodeProto> = []
  readonly initializers: Array<onnx.ITensorProto> = []
  private count = 0

  floats(name: string, values: Float32Array, dims: ReadonlyArray<number>): string {
    this.initializers.push({
      name,
      dataType: FLOAT,
      dims: [...dims],
      rawData: new Uint8Array(
        values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength),
      ),
    })
    return name
  }

  ints(name: string, values: ReadonlyArray<number>): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)))
    this.initializers.push({
      name,
      dataType: INT64,
      dims: [values.length],
      rawData: new Uint8Array(data.buffer),
    })
    return name
  }

  op(
    type: string,
    inputs: ReadonlyArray<string>,
    attributes: ReadonlyArray<onnx.IAttributeProto> = [],
    output?: string,
  ): string {
    const name = output ?? `${type.toLowerCase()}_${this.count++}`
    this.nodes.push({
      opType: type,
      name: `${name}_node`,
      input: [...inputs],
      output: [name],
      attribute: [...attributes],
    })
    return name
  }

  /** Axes as the int64 input that opset 13's Squeeze, Unsqueeze and ReduceSum take. */
  axes(...axes: ReadonlyArray<number>): string {
    return this.ints(`axes_${axes.join("_")}_${this.count++}`, axes)
  }
}

const intAttribute = (name: string, i: number): onnx.IAttributeProto => ({
  name,
  type: onnx.AttributeProto.AttributeType.INT,
  i,
})

/** The values of the named parameters, on the host. */
const weights = (backend: TensorBackend, parameters: ReadonlyArray<Parameter>) => {
  const byName = new Map(parameters.map((p) => [p.name, p]))
  return (name: string): { values: Float32Array; dims: Array<number> } => {
    const p = byName.get(name)
    if (p === undefined)
      throw new UseError({ subject: "export", reason: `the model has no parameter "${name}"` })
    return { values: backend.read(p.value) as Float32Array, dims: [...p.value.shape] }
  }
}

/** Dense layers `<prefix>/dense<l>` applied to x (hidden activation between, linear output). */
const dense = (
  g: Graph,
  read: ReturnType<typeof weights>,
  prefix: string,
  layers: number,
  x: string,
  hidden: "Relu" | "Sigmoid",
  first = 0,
): string => {
  let h = x
  for (let l = first; l < layers; l++) {
    if (l > 0) h = g.op(hidden, [h])
    const kernel = read(`${prefix}/dense${l}/kernel`)
    const bias = read(`${prefix}/dense${l}/bias`)
    h = g.op("Add", [
      g.op("MatMul", [h, g.floats(`${prefix}/dense${l}/kernel`, kernel.values, kernel.dims)]),
      g.floats(`${prefix}/dense${l}/bias`, bias.values, bias.dims),
    ])
  }
  return h
}

/** How many `<prefix>/dense<l>/kernel` the parameters have. */
const layerCount = (parameters: ReadonlyArray<Parameter>, prefix: string): number =>
  parameters.filter((p) => p.name.startsWith(`${prefix}/dense`) && p.name.endsWith("/kernel"))
    .length

/** mask [U, L] = 1 where history > 0. */
const historyMask = (g: Graph, zero: string): string =>
  g.op("Cast", [g.op("Greater", ["history", zero])], [intAttribute("to", FLOAT)])

/** The DIN scoring graph; returns the name of the scores [U, C]. */
const dinGraph = (
  g: Graph,
  read: ReturnType<typeof weights>,
  parameters: ReadonlyArray<Parameter>,
): string => {
  const table = read("din/item-embedding")
  const d = table.dims[1]!
  const E = g.floats("din/item-embedding", table.values, table.dims)
  const zero = g.ints("zero", [0])
  const h = g.op("Gather", [E, "history"]) // [U, L, d]
  const t = g.op("Gather", [E, "candidates"]) // [U, C, d]
  const mask = historyMask(g, zero) // [U, L]
  // the activation unit's first layer by blocks (Din.ts): W = [W_h; W_t; W_d; W_p]
  const w0 = read("din/attention/dense0/kernel")
  const H = w0.dims[1]!
  const block = (k: number) => w0.values.subarray(k * d * H, (k + 1) * d * H)
  const [wh, wt, wd, wp] = [block(0), block(1), block(2), block(3)]
  const historyWeights = new Float32Array(d * H)
  const rowWeights = new Float32Array(d * H)
  for (let i = 0; i < d * H; i++) {
    historyWeights[i] = wh[i]! + wd[i]! // rounded to float32 on store, as the project's add
    rowWeights[i] = wt[i]! - wd[i]!
  }
  const b0 = read("din/attention/dense0/bias")
  const perUser = g.op("Unsqueeze", [
    g.op("MatMul", [h, g.floats("din/attention/history-weights", historyWeights, [d, H])]),
    g.axes(1),
  ]) // [U, 1, L, H]
  const products = g.op("Mul", [
    g.op("Unsqueeze", [h, g.axes(1)]),
    g.op("Unsqueeze", [t, g.axes(2)]),
  ]) // [U, C, L, d]
  const perPair = g.op("MatMul", [
    products,
    g.floats("din/attention/product-weights", wp.slice(), [d, H]),
  ]) // [U, C, L, H]
  const perRow = g.op("Unsqueeze", [
    g.op("Add", [
      g.op("MatMul", [t, g.floats("din/attention/target-weights", rowWeights, [d, H])]),
      g.floats("din/attention/dense0/bias", b0.values, b0.dims),
    ]),
    g.axes(2),
  ]) // [U, C, 1, H]
  const pre = g.op("Add", [g.op("Add", [perUser, perPair]), perRow])
  const attention = dense(
    g,
    read,
    "din/attention",
    layerCount(parameters, "din/attention"),
    pre,
    "Sigmoid",
    1,
  )
  const a = g.op("Squeeze", [attention, g.axes(3)]) // [U, C, L]
  const w = g.op("Mul", [a, g.op("Unsqueeze", [mask, g.axes(1)])]) // masked, unnormalised
  const m = g.op("MatMul", [w, h]) // the mediator Σ_j w_j h_j, [U, C, d]
  const x = g.op("Concat", [m, t], [intAttribute("axis", 2)])
  const logit = dense(g, read, "din/predictor", layerCount(parameters, "din/predictor"), x, "Relu")
  return g.op("Squeeze", [logit, g.axes(2)], [], "scores")
}

/** The DeepFM scoring graph; returns the name of the scores [U, C]. */
const deepFmGraph = (
  g: Graph,
  read: ReturnType<typeof weights>,
  parameters: ReadonlyArray<Parameter>,
): string => {
  const itemTable = read("deepfm/item-embedding")
  const userTable = read("deepfm/user-embedding")
  const itemWeight = read("deepfm/item-weight")
  const userWeight = read("deepfm/user-weight")
  const biasValue = read("deepfm/bias")
  const IE = g.floats("deepfm/item-embedding", itemTable.values, itemTable.dims)
  const UE = g.floats("deepfm/user-embedding", userTable.values, userTable.dims)
  const IW = g.floats("deepfm/item-weight", itemWeight.values, itemWeight.dims)
  const UW = g.floats("deepfm/user-weight", userWeight.values, userWeight.dims)
  const bias = g.floats("deepfm/bias", biasValue.values, biasValue.dims)
  const zero = g.ints("zero", [0])
  const one = g.floats("one", new Float32Array([1]), [1])
  const half = g.floats("half", new Float32Array([0.5]), [1])
  const user = g.op("Unsqueeze", [g.op("Gather", [UE, "user"]), g.axes(1)]) // [U, 1, d]
  const item = g.op("Gather", [IE, "candidates"]) // [U, C, d]
  // φ: the masked mean of the history's item embeddings, [U, 1, d]
  const mask = historyMask(g, zero)
  const count = g.op("Max", [
    g.op("ReduceSum", [mask, g.axes(1)], [intAttribute("keepdims", 1)]),
    one,
  ])
  const weightsOfHistory = g.op("Unsqueeze", [g.op("Div", [mask, count]), g.axes(1)]) // [U, 1, L]
  const mediator = g.op("MatMul", [weightsOfHistory, g.op("Gather", [IE, "history"])])
  // FM, first order: w_user + w_item + b, [U, C]
  const firstOrder = g.op("Add", [
    g.op("Add", [
      g.op("Gather", [UW, "user"]), // [U, 1]
      g.op("Squeeze", [g.op("Gather", [IW, "candidates"]), g.axes(2)]), // [U, C]
    ]),
    bias,
  ])
  // FM, second order: ½ Σ_k ((Σ_f v_fk)² − Σ_f v_fk²)
  const total = g.op("Add", [g.op("Add", [user, item]), mediator])
  const squares = g.op("Add", [
    g.op("Add", [g.op("Mul", [user, user]), g.op("Mul", [item, item])]),
    g.op("Mul", [mediator, mediator]),
  ])
  const secondOrder = g.op("Mul", [
    g.op(
      "ReduceSum",
      [g.op("Sub", [g.op("Mul", [total, total]), squares]), g.axes(2)],
      [intAttribute("keepdims", 0)],
    ),
    half,
  ])
  // the DNN on [v_user, v_item, m]
  const shape = g.op("Shape", [item])
  const x = g.op(
    "Concat",
    [g.op("Expand", [user, shape]), item, g.op("Expand", [mediator, shape])],
    [intAttribute("axis", 2)],
  )
  const deep = g.op("Squeeze", [
    dense(g, read, "deepfm/dnn", layerCount(parameters, "deepfm/dnn"), x, "Relu"),
    g.axes(2),
  ])
  return g.op("Add", [g.op("Add", [firstOrder, secondOrder]), deep], [], "scores")
}

const tensorType = (elemType: number, dims: ReadonlyArray<string>): onnx.ITypeProto => ({
  tensorType: { elemType, shape: { dim: dims.map((dimParam) => ({ dimParam })) } },
})

/** Why a trained model cannot be written as this graph, or undefined. */
export const unsupported = (network: { readonly kind: string }): string | undefined => {
  if (network.kind === "deepfm") return undefined
  if (network.kind !== "din") return `no ONNX graph for a ${network.kind} model`
  const config = (network as Din.DinModel).config
  if (config.attentionActivation !== "sigmoid") return "DIN with Dice is not exported"
  if (config.attentionNormalization !== "none") return "DIN with softmax attention is not exported"
  if (config.userEmbedding) return "DIN with a user embedding is not exported"
  if (config.predictorActivation !== "relu") return "DIN's predictor must use ReLU"
  return undefined
}

/**
 * The ONNX model of a trained network (`kind` din or deepfm) with its parameters' current
 * values; `metadata` goes into the model's metadata properties.
 */
export const toOnnx = (
  backend: TensorBackend,
  network: { readonly kind: string },
  parameters: ReadonlyArray<Parameter>,
  metadata: { readonly [key: string]: string },
): Uint8Array => {
  const why = unsupported(network)
  if (why !== undefined) throw new UseError({ subject: "export", reason: why })
  const g = new Graph()
  const read = weights(backend, parameters)
  const scores =
    network.kind === "din" ? dinGraph(g, read, parameters) : deepFmGraph(g, read, parameters)
  const model: onnx.IModelProto = {
    irVersion: 7,
    producerName: "causald",
    producerVersion: "0.1.0",
    opsetImport: [{ domain: "", version: OPSET }],
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: `causald-${network.kind}`,
      node: g.nodes,
      initializer: g.initializers,
      input: [
        { name: "user", type: tensorType(INT64, ["U"]) },
        { name: "history", type: tensorType(INT64, ["U", "L"]) },
        { name: "candidates", type: tensorType(INT64, ["U", "C"]) },
      ],
      output: [{ name: scores, type: tensorType(FLOAT, ["U", "C"]) }],
    },
  }
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish()
}
