/**
 * `bun run export --run DIR --format onnx`: a trained model of a repro run as an ONNX model
 * (`Onnx.ts`: the scoring graph with its weights), and beside it `<output>.json`: the graph's
 * inputs and outputs, the maps between the data's ids and the graph's indices, and the model's
 * provenance (run, method, seed, data fingerprint, reading of the paper).
 *
 * @module
 */
import { Tensors } from "@causald/core"
import { Effect, FileSystem, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { backendLayer, modelFlags, withModel } from "./Cli.ts"
import * as Onnx from "./Onnx.ts"
import { UseError } from "./Run.ts"

export const flags = {
  ...modelFlags,
  format: Flag.Literals("format", ["onnx"] as const).pipe(
    Flag.withDescription("Export format; onnx (the only one)"),
    Flag.withDefault("onnx" as const),
  ),
  output: Flag.String("output").pipe(
    Flag.withMetavar("FILE"),
    Flag.withDescription("Where to write the model; default <run>/export/<method>-seed-<n>.onnx"),
    Flag.optional,
  ),
} as const

/** What `<output>.json` says about the graph's inputs and outputs. */
export const signature = {
  inputs: [
    {
      name: "user",
      type: "int64",
      shape: ["U"],
      meaning: "user indices (userIds below); DIN ignores them",
    },
    {
      name: "history",
      type: "int64",
      shape: ["U", "L"],
      meaning: "item indices (itemIds below), oldest first, left-aligned, 0 = padding",
    },
    { name: "candidates", type: "int64", shape: ["U", "C"], meaning: "item indices to score" },
  ],
  outputs: [
    {
      name: "scores",
      type: "float32",
      shape: ["U", "C"],
      meaning: "logit of each candidate (its sigmoid is the click probability)",
    },
  ],
} as const

/** Exports the model the flags name; returns the written model's path. */
export const exportModel = (o: {
  readonly run: string
  readonly method: string
  readonly seed: Option.Option<number>
  readonly format: "onnx"
  readonly output: Option.Option<string>
}) =>
  Effect.gen(function* () {
    return yield* withModel(o, ({ run, loaded }) =>
      Effect.gen(function* () {
        const backend = yield* Tensors
        const fs = yield* FileSystem.FileSystem
        const why = Onnx.unsupported(loaded.network)
        if (why !== undefined)
          return yield* new UseError({ subject: `--method ${o.method}`, reason: why })
        const output = Option.getOrElse(
          o.output,
          () => `${run.dir}/export/${loaded.method}-seed-${loaded.seed}.onnx`,
        )
        const provenance = {
          run: run.dir,
          method: loaded.method,
          seed: String(loaded.seed),
          model: loaded.kind,
          dataFingerprint: run.fingerprint,
          reading: run.configuration.reading ?? "literal",
        }
        const bytes = Onnx.toOnnx(backend, loaded.network, loaded.parameters, provenance)
        const write = (file: string, data: Uint8Array | string) =>
          (typeof data === "string"
            ? fs.writeFileString(file, data)
            : fs.writeFile(file, data)
          ).pipe(
            Effect.mapError(
              (e) =>
                new UseError({
                  subject: `--output ${output}`,
                  reason: `cannot write ${file}: ${e.message}`,
                }),
            ),
          )
        const folder = output.includes("/") ? output.slice(0, output.lastIndexOf("/")) : "."
        yield* fs.makeDirectory(folder, { recursive: true }).pipe(
          Effect.mapError(
            (e) =>
              new UseError({
                subject: `--output ${output}`,
                reason: `cannot make ${folder}: ${e.message}`,
              }),
          ),
        )
        yield* write(output, bytes)
        yield* write(
          `${output}.json`,
          `${JSON.stringify(
            {
              ...provenance,
              seed: loaded.seed,
              opset: Onnx.OPSET,
              settings: loaded.settings,
              historyLength: run.data.config.historyLength,
              ...signature,
              userIds: run.data.userIds,
              itemIds: run.data.itemIds,
            },
            null,
            1,
          )}\n`,
        )
        process.stderr.write(`wrote ${output} (${bytes.length} bytes) and ${output}.json\n`)
        return output
      }),
    )
  })

export const command = Command.make("export", flags).pipe(
  Command.withDescription(
    "Export a trained model of a repro run (its scoring graph with the weights) to ONNX",
  ),
  Command.withHandler((o) => exportModel(o).pipe(Effect.provide(backendLayer(o.backend)))),
)
