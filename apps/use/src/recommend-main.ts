/** `bun run recommend`: see `Recommend.ts`. */
import { runMain } from "./Cli.ts"
import { command } from "./Recommend.ts"

runMain("recommend", command)
