/** `bun run export`: see `Export.ts`. */
import { runMain } from "./Cli.ts"
import { command } from "./Export.ts"

runMain("export", command)
