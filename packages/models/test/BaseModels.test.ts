/**
 * The base models' configurations as Schemas: the defaults decoded from `{}` (the paper's
 * numbers, unchanged), one resolution step (defaults < options < overrides), a typed error naming
 * the bad field, and default models identical, bit for bit, to those built before the
 * configurations became Schemas.
 */
import { describe, expect, test } from "bun:test"
import { createHash } from "node:crypto"
import { startBackend } from "@causald/tfjs"
import { Effect, Result } from "effect"
import { BaseModels, DeepFm, Din, InvalidConfig } from "../src/index.ts"
import { vocabulary } from "./fixtures.ts"

/** The failure of a resolution that must fail. */
const failure = <A>(result: Result.Result<A, InvalidConfig>): InvalidConfig => {
  if (Result.isSuccess(result)) throw new Error(`resolved: ${JSON.stringify(result.success)}`)
  return result.failure
}

describe("base model configurations", () => {
  test("decoding {} gives the paper's configurations", () => {
    expect(Din.defaultConfig).toEqual({
      embeddingSize: 8,
      attentionHidden: [80, 40],
      attentionActivation: "sigmoid",
      attentionNormalization: "none",
      predictorHidden: [200, 80],
      predictorActivation: "relu",
      userEmbedding: false,
      embeddingStd: 0.05,
      diceMomentum: 0.99,
    })
    expect(DeepFm.defaultConfig).toEqual({
      embeddingSize: 8,
      dnnHidden: [256, 128],
      dnnActivation: "relu",
      embeddingStd: 0.05,
    })
    for (const base of BaseModels.baseModelNames)
      expect(Result.getOrThrow(BaseModels.resolve(base))).toEqual(BaseModels.defaults(base))
  })

  test("defaults, then options, then overrides", () => {
    const resolved = Result.getOrThrow(
      BaseModels.resolve(
        "din",
        { embeddingSize: 16, predictorHidden: [64] },
        { embeddingSize: 4, userEmbedding: true },
      ),
    )
    expect(resolved).toEqual({
      base: "din",
      config: {
        ...Din.defaultConfig,
        embeddingSize: 4,
        predictorHidden: [64],
        userEmbedding: true,
      },
    })
    // an undefined override (an absent flag) leaves the option in place
    const kept = Result.getOrThrow(
      BaseModels.resolve("deepfm", { embeddingSize: 12 }, { embeddingSize: undefined }),
    )
    expect(kept.config.embeddingSize).toBe(12)
  })

  test("a bad option is an InvalidConfig naming the field", () => {
    const size = failure(BaseModels.resolve("din", { embeddingSize: 0 }))
    expect(size).toBeInstanceOf(InvalidConfig)
    expect(size.option).toBe("embeddingSize")
    expect(size.found).toBe("0")
    expect(size.message).toContain("embeddingSize")
    // an override is checked like an option
    expect(failure(BaseModels.resolve("deepfm", {}, { embeddingSize: 2.5 })).option).toBe(
      "embeddingSize",
    )
    const layer = failure(BaseModels.resolve("din", { predictorHidden: [200, -80] }))
    expect(layer.option).toBe("predictorHidden[1]")
    expect(layer.found).toBe("-80")
    expect(failure(BaseModels.resolve("deepfm", { dnnHidden: [] })).option).toBe("dnnHidden")
    expect(failure(BaseModels.resolve("din", { attentionActivation: "relu" })).option).toBe(
      "attentionActivation",
    )
    expect(failure(BaseModels.resolve("deepfm", { embeddingStd: -1 })).option).toBe("embeddingStd")
    // an option of another model, or a misspelt one, is refused rather than ignored
    const other = failure(BaseModels.resolve("deepfm", { attentionHidden: [8] }))
    expect(other.option).toBe("attentionHidden")
    expect(other.expected).toBe("no such option")
  })

  test("default models are the ones built before the Schemas, bit for bit", async () => {
    const b = await Effect.runPromise(startBackend("cpu"))
    // SHA-256 of the initial parameters of seed 3 as the interfaces with `defaultConfig` built
    // them (`{ embeddingSize: 8 }` over the defaults, the study's configuration until then)
    const before = {
      din: "2f4b4310f74ea7d226d34962bb3967549628266214e1efe26d935cc135fe9040",
      deepfm: "7d916d904d1b05d4ebc42211ebd5dc4a88c77ef94e34f5ea1bd4f1f67b36320a",
    }
    for (const base of BaseModels.baseModelNames) {
      const model = BaseModels.make(b, vocabulary, BaseModels.defaults(base), 3)
      const hash = createHash("sha256")
      for (const p of [...model.parameters, ...(model.buffers ?? [])]) {
        hash.update(p.name)
        hash.update(Buffer.from((b.read(p.value) as Float32Array).buffer))
      }
      expect(hash.digest("hex")).toBe(before[base])
      b.dispose([...model.parameters, ...(model.buffers ?? [])])
    }
  })
})
