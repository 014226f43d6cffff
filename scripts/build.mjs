// Builds dist/ from src/: compiles TypeScript, then copies the SQL files the brokers load at run time.
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  // Installed as a dependency without devDependencies: ship the prebuilt dist/ as is.
  if (existsSync('dist/index.js')) process.exit(0);
  console.error('celeriac: typescript is needed to build dist/');
  process.exit(1);
}
rmSync('dist', { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
cpSync('src', 'dist', { recursive: true, filter: (src) => !/\.ts$/.test(src) });
