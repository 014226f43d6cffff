#!/usr/bin/env node
// The `celeriac` command. The CLI is compiled into dist/ by `npm run build`.
import { main } from '../dist/cli/main.js';

await main();
