/**
 * The stock kernels that {@link registerKernels} replaced, for replacements that handle only some
 * cases and fall back to the stock kernel for the others.
 *
 * @module
 */
import type { KernelConfig, KernelFunc, KernelSetupFunc } from "@tensorflow/tfjs-core"

const stock = new Map<string, KernelConfig>()

const key = (kernelName: string, backendName: string): string => `${kernelName}/${backendName}`

/** Records a stock kernel before it is unregistered (the first one seen is kept). */
export const rememberStock = (config: KernelConfig): void => {
  const k = key(config.kernelName, config.backendName)
  if (!stock.has(k)) stock.set(k, config)
}

/** The replaced stock kernel function; throws if none was recorded. */
export const stockKernel = (kernelName: string, backendName: string): KernelFunc => {
  const config = stock.get(key(kernelName, backendName))
  if (config === undefined)
    throw new Error(
      `no stock ${kernelName} kernel was recorded for ${backendName}: import the backend before registerKernels()`,
    )
  return config.kernelFunc
}

/**
 * A setup function that runs the stock kernel's: when the replacement is registered before the
 * backend initialises, the backend calls the replacement's setup instead of the stock one, which
 * the fallback still needs (e.g. the wasm kernels bind their C++ functions there).
 */
export const stockSetup =
  (kernelName: string, backendName: string): KernelSetupFunc =>
  (backend) => {
    stock.get(key(kernelName, backendName))?.setupFunc?.(backend)
  }
