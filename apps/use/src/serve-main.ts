/** `bun run serve`: see `Serve.ts`. */
import { runMain } from "./Cli.ts"
import { command } from "./Serve.ts"

runMain("serve", command)
